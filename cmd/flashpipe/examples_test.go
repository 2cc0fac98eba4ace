package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashpipe/flashpipe/fsimage/imagetest"
	"github.com/flashpipe/flashpipe/internal/testreq"
)

// TestExamplesBuild builds each example profile into a 64 MiB image, as the
// station would write it to a stick, and checks the result with the
// standard tools: sfdisk reads the partition table, fsck.fat or fsck.exfat
// finds the filesystem clean, fatlabel or exfatlabel reads the label, and
// mtype reads every file of a FAT volume back.
func TestExamplesBuild(t *testing.T) {
	testreq.Tools(t, "sfdisk", "fsck.fat", "fsck.exfat", "fatlabel", "exfatlabel", "mtype")
	content := "../../examples/content/"
	for _, tc := range []struct {
		profile, table, fs, label, partName string
		files                               map[string]string // path on the stick → file in examples/content
		absent                              []string
	}{
		{"any", "dos", "vfat", "FLASHPIPE", "", map[string]string{"/README.txt": "station/README.txt", "/info.txt": "station/info.txt"}, nil},
		{"press", "dos", "vfat", "PRESS", "", map[string]string{"/press/press-release.txt": "press/press-release.txt", "/press/contacts.csv": "press/contacts.csv"}, nil},
		{"press-desk-port", "dos", "vfat", "PRESS001", "", map[string]string{"/press/contacts.csv": "press/contacts.csv"}, nil},
		{"visitors", "dos", "vfat", "WELCOME", "", map[string]string{"/welcome.txt": "visitors/welcome.txt", "/maps/hall-a.txt": "visitors/maps/hall-a.txt"}, []string{"/draft.tmp"}},
		{"customer", "gpt", "exfat", "EXPO001", "EXPO ACME", nil, nil},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), tc.profile+".img")
			args := append([]string{"build"}, examples(t)...)
			code, out, errs := runCLI(t, append(args, "--profile", tc.profile, "--size", "64MiB", "-o", img)...)
			if code != 0 {
				t.Fatalf("build --profile %s = %d, want 0; stderr:\n%s", tc.profile, code, errs)
			}
			t.Log(strings.TrimSpace(out))
			part := extractPartition(t, img, tc.table, tc.partName)
			switch tc.fs {
			case "vfat":
				tool(t, "fsck.fat", "-n", part)
				if got := strings.TrimSpace(tool(t, "fatlabel", part)); got != tc.label {
					t.Errorf("fatlabel = %q, want %q", got, tc.label)
				}
				for onStick, local := range tc.files {
					want, err := os.ReadFile(content + local)
					if err != nil {
						t.Fatal(err)
					}
					if got := tool(t, "mtype", "-i", part, "::"+onStick); got != string(want) {
						t.Errorf("mtype %s = %q, want %q", onStick, got, want)
					}
				}
				for _, p := range tc.absent {
					if err := exec.Command("mtype", "-i", part, "::"+p).Run(); err == nil {
						t.Errorf("mtype %s succeeded, want it excluded", p)
					}
				}
			case "exfat":
				tool(t, "fsck.exfat", "-n", part)
				got := tool(t, "exfatlabel", part)
				if !strings.Contains(got, tc.label) {
					t.Errorf("exfatlabel = %q, want %q", got, tc.label)
				}
			}
		})
	}
}

// tool runs a command and returns its stdout, failing the test when it
// exits non-zero.
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// extractPartition reads img's partition table with sfdisk, checks its type
// and the single partition's name, and copies the partition into a sparse
// file of its own for the filesystem tools.
func extractPartition(t *testing.T, img, table, name string) string {
	t.Helper()
	label, parts := imagetest.Partitions(t, img)
	if label != table || len(parts) != 1 || parts[0].Name != name {
		t.Fatalf("sfdisk --json: table %q with partitions %+v, want %q with one partition named %q", label, parts, table, name)
	}
	return imagetest.Extract(t, img, parts[0].Offset, parts[0].Size)
}

// TestExamplePoolNotBuilt: the licence example takes rows from a pool,
// which only a station hands out: build refuses it, naming the pool, and
// writes no image.
func TestExamplePoolNotBuilt(t *testing.T) {
	img := filepath.Join(t.TempDir(), "licensed.img")
	args := append([]string{"build"}, examples(t)...)
	code, _, errs := runCLI(t, append(args, "--profile", "licensed", "--size", "64MiB", "-o", img)...)
	if code == 0 || !strings.Contains(errs, `pool licences`) || !strings.Contains(errs, "only a station") {
		t.Fatalf("build --profile licensed = %d, stderr %q; want a failure naming the pool", code, errs)
	}
	if _, err := os.Stat(img); err == nil {
		t.Errorf("build of a pool profile wrote %s", img)
	}
}
