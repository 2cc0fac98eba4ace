package steps

import (
	"fmt"
	"strings"

	"github.com/flashpipe/flashpipe/pipeline"
	"github.com/hashicorp/hcl/v2"
)

// checkEnum reports a value that is not one of the choices, naming them.
func checkEnum(c *pipeline.CheckContext, attr, value string, choices ...string) hcl.Diagnostics {
	for _, ch := range choices {
		if value == ch {
			return nil
		}
	}
	return hcl.Diagnostics{c.Errorf(attr, fmt.Sprintf("Invalid %s", attr),
		"%s = %q is not valid. Choose one of: %s.", attr, value, strings.Join(quoted(choices), ", "))}
}

func quoted(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}
