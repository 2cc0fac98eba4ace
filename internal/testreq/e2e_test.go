package testreq

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2ERefusesSkipsInCI: under CI=true, e2e/run.sh refuses E2E_XFAIL
// (which lets a failing scenario pass the run) and E2E_STUB (which runs no
// scenario but the harness self-test) before it does anything. PATH is
// empty, so if the check were gone the script could not install, build or
// boot anything either.
func TestE2ERefusesSkipsInCI(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"E2E_XFAIL=5-eject", "E2E_STUB=1"} {
		name := strings.SplitN(env, "=", 2)[0]
		cmd := exec.Command(bash, filepath.Join(root, "e2e", "run.sh"))
		cmd.Env = []string{"PATH=" + t.TempDir(), "CI=true", env}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(out.String(), name) || !strings.Contains(out.String(), "CI=true") {
			t.Errorf("CI=true %s e2e/run.sh = exit %d (%v), output %q; want exit 2 naming %s and CI=true", env, code, err, out.String(), name)
		}
	}
}
