package pool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writePool(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("key,owner\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "KEY-%04d,\"o, %d\"\n", i, i)
	}
	p := filepath.Join(dir, "keys.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func open(t *testing.T, s Spec) *Pool {
	t.Helper()
	p, err := Open(s)
	if err != nil {
		t.Fatalf("Open(%s) = %v", s.Name, err)
	}
	return p
}

func TestReadCSVAndJSONLines(t *testing.T) {
	dir := t.TempDir()
	cols, rows, err := Read(writePool(t, dir, 3), CSV)
	if err != nil || len(cols) != 2 || cols[0] != "key" || cols[1] != "owner" || len(rows) != 3 || rows[1].Values["owner"] != "o, 2" || rows[2].N != 3 {
		t.Fatalf("Read(csv) = %v, %+v, %v; want columns key, owner and 3 rows", cols, rows, err)
	}
	jl := filepath.Join(dir, "k.jsonl")
	os.WriteFile(jl, []byte(`{"key":"A","n":1}`+"\n\n"+`{"n":2,"key":"B"}`+"\n"), 0o644)
	cols, rows, err = Read(jl, JSONLines)
	if err != nil || strings.Join(cols, ",") != "key,n" || len(rows) != 2 || rows[1].Values["key"] != "B" || rows[1].Values["n"] != "2" {
		t.Fatalf("Read(jsonl) = %v, %+v, %v", cols, rows, err)
	}
	for name, src := range map[string]string{
		"bad column": "key,2x\na,b\n",
		"duplicate":  "key,key\na,b\n",
		"short row":  "key,owner\na\n",
		"empty":      "",
	} {
		p := filepath.Join(dir, "bad.csv")
		os.WriteFile(p, []byte(src), 0o644)
		if _, _, err := Read(p, CSV); err == nil {
			t.Errorf("Read(%s) = nil error, want one", name)
		}
	}
	os.WriteFile(jl, []byte(`{"key":"A"}`+"\n"+`{"other":"B"}`+"\n"), 0o644)
	if _, _, err := Read(jl, JSONLines); err == nil {
		t.Errorf("Read(jsonl with differing keys) = nil error, want one")
	}
}

// TestTakeFinishReturn walks rows through every state and reopens the
// pool: the journal alone carries the state across.
func TestTakeFinishReturn(t *testing.T) {
	dir := t.TempDir()
	s := Spec{Name: "keys", File: writePool(t, dir, 4), Format: CSV, Journal: filepath.Join(dir, "j")}
	p := open(t, s)
	var got []int
	for i := 0; i < 4; i++ {
		r, err := p.Take(fmt.Sprintf("job%d", i))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.N)
	}
	if fmt.Sprint(got) != "[1 2 3 4]" {
		t.Fatalf("rows taken = %v, want [1 2 3 4]", got)
	}
	if _, err := p.Take("job5"); !errors.Is(err, ErrDry) {
		t.Fatalf("Take from a dry pool = %v, want ErrDry", err)
	}
	p.Finish(1, "job0", true, "done")
	p.Finish(2, "job1", false, "failed") // returns: Burn is false
	if err := p.Return(3, "x"); err == nil {
		t.Errorf("Return of a row in use = nil error, want one")
	}
	p.Close()

	// Row 3 and 4 were taken by jobs that never ended: burnt at reopen.
	p = open(t, s)
	st := p.Status()
	if st.Free != 1 || st.Spent != 1 || st.Burnt != 2 || st.Taken != 0 {
		t.Fatalf("status after reopen = %+v, want 1 free (row 2), 1 spent, 2 burnt", st)
	}
	if r, err := p.Take("job6"); err != nil || r.N != 2 {
		t.Fatalf("Take = %v, %v; want the returned row 2", r.N, err)
	}
	if err := p.Return(4, "stick destroyed"); err != nil {
		t.Fatalf("Return(burnt row) = %v", err)
	}
	if r, err := p.Take("job7"); err != nil || r.N != 4 {
		t.Fatalf("Take = %v, %v; want the operator's row 4", r.N, err)
	}
	p.Close()
	_, last, err := ReadStatus(s)
	if err != nil || last[3].Op != OpBurn || !strings.Contains(last[3].Why, "stopped") || last[3].Job != "job2" {
		t.Fatalf("row 3's last line = %+v (%v), want a burn naming job2 and why", last[3], err)
	}
}

func TestBurnOnFailure(t *testing.T) {
	dir := t.TempDir()
	s := Spec{Name: "keys", File: writePool(t, dir, 2), Format: CSV, Journal: filepath.Join(dir, "j"), Burn: true}
	p := open(t, s)
	defer p.Close()
	r, _ := p.Take("a")
	p.Finish(r.N, "a", false, "failed")
	if r2, err := p.Take("b"); err != nil || r2.N != 2 {
		t.Fatalf("Take after a burnt row = %d, %v; want row 2", r2.N, err)
	}
	if st := p.Status(); st.Burnt != 1 || st.Free != 0 {
		t.Errorf("status = %+v, want 1 burnt, 0 free", st)
	}
}

// TestSecondOpenRefused: a second station on the same pool file, even
// with another journal, is refused while the first holds it.
func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	s := Spec{Name: "keys", File: writePool(t, dir, 2), Format: CSV, Journal: filepath.Join(dir, "j")}
	p := open(t, s)
	other := s
	other.Journal = filepath.Join(dir, "other-journal")
	var locked *Locked
	if _, err := Open(other); !errors.As(err, &locked) || locked.Path != s.File {
		t.Fatalf("second Open = %v, want *Locked on the pool file", err)
	}
	p.Close()
	p2 := open(t, other)
	p2.Close()
}

// TestTornLastLine: a take line cut short by a crash was never fsynced
// whole, so no byte of its row was written: the row stays free, and the
// cut is removed before the next line.
func TestTornLastLine(t *testing.T) {
	dir := t.TempDir()
	s := Spec{Name: "keys", File: writePool(t, dir, 3), Format: CSV, Journal: filepath.Join(dir, "j")}
	p := open(t, s)
	p.Take("a")
	p.Finish(1, "a", true, "done")
	p.Close()
	f, _ := os.OpenFile(s.Journal, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"take","row":2,"ti`)
	f.Close()
	p = open(t, s)
	r, err := p.Take("b")
	if err != nil || r.N != 2 {
		t.Fatalf("Take after a torn line = %d, %v; want row 2", r.N, err)
	}
	p.Close()
	b, _ := os.ReadFile(s.Journal)
	if strings.Contains(string(b), `"ti{`) || strings.Count(string(b), "\n") != 3 {
		t.Fatalf("journal after the torn line = %q, want 3 whole lines", b)
	}
}

// TestEditedPoolRefused: rows reordered under the journal would hand out
// a row twice; Open refuses. Rows appended are fine.
func TestEditedPoolRefused(t *testing.T) {
	dir := t.TempDir()
	s := Spec{Name: "keys", File: writePool(t, dir, 3), Format: CSV, Journal: filepath.Join(dir, "j")}
	p := open(t, s)
	p.Take("a")
	p.Close()
	p = open(t, s)
	writePool(t, dir, 5) // appended while the pool is open
	if err := p.Refresh(); err != nil || p.Status().Rows != 5 {
		t.Fatalf("Refresh after rows were appended = %v, %d rows; want 5", err, p.Status().Rows)
	}
	p.Close()
	os.WriteFile(s.File, []byte("key,owner\nKEY-0002,x\nKEY-0001,y\n"), 0o644)
	if _, err := Open(s); err == nil || !strings.Contains(err.Error(), "row 1") {
		t.Fatalf("Open of an edited pool file = %v, want an error naming row 1", err)
	}
}
