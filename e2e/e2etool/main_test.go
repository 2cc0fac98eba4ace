package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

const receiptsFile = `{"profile":"docs","result":"done","device":{"serial":"A","port":"1-1"},"verify":{"ok":true}}
{"profile":"docs","result":"removed","failed_step":"write","device":{"serial":"B","port":"2-1"}}

{"profile":"docs","result":"failed","failed_step":"verify","device":{"serial":"B","port":"2-1"},"verify":{"ok":false,"failed_files":[{"path":"/a.txt"},{"path":"/b/c.txt"}]}}
`

func TestRun(t *testing.T) {
	f := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(f, []byte(receiptsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"count", f}, "3\n", 0},
		{[]string{"count", f, "B"}, "2\n", 0},
		{[]string{"count", f, "Z"}, "0\n", 0},
		{[]string{"count", filepath.Join(t.TempDir(), "none")}, "0\n", 0},
		{[]string{"get", f, "A", "device.port"}, "1-1\n", 0},
		{[]string{"get", f, "A", "verify.ok"}, "true\n", 0},
		{[]string{"get", f, "B", "verify.ok"}, "false\n", 0},
		{[]string{"get", f, "B", "verify.failed_files.*.path"}, "/a.txt,/b/c.txt\n", 0},
		{[]string{"get", f, "B", "verify.failed_files.1.path"}, "/b/c.txt\n", 0},
		{[]string{"getn", f, "B", "1", "failed_step"}, "write\n", 0},
		{[]string{"get", f, "A", "failed_step"}, "\n", 0},
		{[]string{"get", f, "Z", "result"}, "", 1},
		{[]string{"getn", f, "B", "3", "result"}, "", 1},
		{[]string{"bogus", f}, "", 2},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		if code != tt.code || out.String() != tt.out {
			t.Errorf("run(%q) = %d, %q, want %d, %q (stderr %q)", tt.args, code, out.String(), tt.code, tt.out, errb.String())
		}
	}
}

func TestRunRejectsNonJSONLine(t *testing.T) {
	f := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(f, []byte("{\"result\":\"done\"}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"count", f}, &out, &errb); code != 1 {
		t.Errorf("run(count, file with a non-JSON line) = %d, want 1", code)
	}
}

func TestGetSelectsArrayElementByField(t *testing.T) {
	f := filepath.Join(t.TempDir(), "r.jsonl")
	rec := `{"result":"done","device":{"serial":"A"},"steps":[{"kind":"wipe"},{"kind":"image","details":{"image_sha256":"abc"}},{"kind":"verify"}]}` + "\n"
	if err := os.WriteFile(f, []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{
		"steps.kind=image.details.image_sha256": "abc\n",
		"steps.kind=verify.kind":                "verify\n",
		"steps.kind=label.kind":                 "\n",
	} {
		var out, errb bytes.Buffer
		if code := run([]string{"get", f, "A", field}, &out, &errb); code != 0 || out.String() != want {
			t.Errorf("get %s = %d, %q, want 0, %q (stderr %q)", field, code, out.String(), want, errb.String())
		}
	}
}
