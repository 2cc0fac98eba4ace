package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flashpipe/flashpipe/printable"
	"github.com/flashpipe/flashpipe/receipts"
	"github.com/flashpipe/flashpipe/units"
)

// WriteText writes s as a plain-text report for a terminal or an e-mail:
// totals, a table per profile and per day, failures grouped by reason, then
// every failure. Text from the receipts is escaped (printable.String): a
// serial or a file name in an error cannot move the cursor or clear the
// screen.
func WriteText(w io.Writer, s Summary) error {
	ew := &errWriter{w: w}
	if s.All.Jobs == 0 {
		ew.printf("flashpipe report: no receipts\n")
		return ew.err
	}
	ew.printf("flashpipe report: %s to %s, %d jobs\n\n", s.From.Format("2006-01-02 15:04"), s.To.Format("2006-01-02 15:04"), s.All.Jobs)
	table(ew, "", []Group{{Key: "all", Totals: s.All}})
	ew.printf("\nBy profile\n")
	profiles := make([]Group, len(s.Profiles))
	for i, g := range s.Profiles {
		profiles[i] = g
		if g.Key == "" {
			profiles[i].Key = "(none)"
		}
	}
	table(ew, "PROFILE", profiles)
	ew.printf("\nBy day\n")
	table(ew, "DAY", s.Days)
	if len(s.Unverified) > 0 {
		ew.printf("\nWritten but not verified (%d): their profiles have no verify step, so nothing was read back\n", len(s.Unverified))
		writeJobs(ew, s.Unverified, false)
	}
	if len(s.Reasons) == 0 {
		ew.printf("\nNo failures.\n")
		return ew.err
	}
	ew.printf("\nFailures by reason\n")
	for _, r := range s.Reasons {
		where := printable.String(string(r.Result))
		if r.Step != "" {
			where += " in " + printable.String(r.Step)
		}
		ew.printf("  %4d × %s: %s\n", r.Count, where, orDash(r.Reason))
	}
	ew.printf("\nFailures (%d)\n", len(s.Failures))
	writeJobs(ew, s.Failures, true)
	return ew.err
}

// writeJobs writes one row per receipt: failures with their step and
// error, unverified jobs without.
func writeJobs(w io.Writer, fs []Failure, failures bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if failures {
		fmt.Fprintln(tw, "TIME\tJOB\tPROFILE\tPORT\tDEVICE\tSERIAL\tRESULT\tSTEP\tERROR")
	} else {
		fmt.Fprintln(tw, "TIME\tJOB\tPROFILE\tPORT\tDEVICE\tSERIAL\tLABEL")
	}
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s", f.Time.Format("2006-01-02 15:04:05"), f.Job,
			orDash(f.Profile), orDash(f.Port), orDash(f.Device), orDash(f.Serial))
		if failures {
			fmt.Fprintf(tw, "\t%s\t%s\t%s\n", orDash(string(f.Result)), orDash(f.Step), orDash(f.Error))
		} else {
			fmt.Fprintf(tw, "\t%s\n", orDash(f.Label))
		}
	}
	tw.Flush()
}

func table(w io.Writer, key string, gs []Group) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tJOBS\tDONE\tUNVERIFIED\tFAILED\tREMOVED\tINTERRUPTED\tWRITTEN\tVERIFIED\tMEAN MB/s\tMEDIAN MB/s\t\n", key)
	for _, g := range gs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", printable.String(g.Key), g.Jobs, g.Done, g.Unverified, g.Failed, g.Removed, g.Interrupted,
			units.Bytes(g.BytesWritten), units.Bytes(g.BytesVerified), mbps(g.MeanThroughput), mbps(g.MedianThroughput))
	}
	tw.Flush()
}

func mbps(v float64) string {
	if v == 0 {
		return "-"
	}
	return strconv.FormatFloat(v/1e6, 'f', 1, 64)
}

// orDash returns s escaped for a terminal, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return printable.String(s)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// CSVHeader is the first row WriteCSV writes.
var CSVHeader = []string{
	"time", "started", "duration_s", "station", "job", "profile", "result", "failed_step", "error",
	"device", "port", "serial", "vendor_id", "product_id", "size", "diskseq", "label",
	"bytes_written", "bytes_verified", "throughput_mb_s",
	"verify_ok", "verify_files", "verify_failed_files", "config_digest", "manifest_digest",
}

// WriteCSV writes one row per receipt, in the given order, after a header
// row (CSVHeader). Times are RFC 3339; a receipt without a verify step has
// empty verify columns.
func WriteCSV(w io.Writer, rs []receipts.Receipt) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	for _, r := range rs {
		dur, tp := "", ""
		if !r.Started.IsZero() && !r.Time.Before(r.Started) {
			dur = strconv.FormatFloat(r.Time.Sub(r.Started).Seconds(), 'f', 3, 64)
		}
		if v, ok := Throughput(r); ok {
			tp = strconv.FormatFloat(v/1e6, 'f', 2, 64)
		}
		vok, vfiles, vfailed := "", "", ""
		if v := r.Verify; v != nil {
			vok, vfiles = strconv.FormatBool(v.OK), strconv.Itoa(v.Files)
			var paths []string
			for _, f := range v.FailedFiles {
				paths = append(paths, f.Path)
			}
			vfailed = strings.Join(paths, " ")
		}
		diskseq := ""
		if r.Device.DiskSeq != 0 {
			diskseq = strconv.FormatUint(r.Device.DiskSeq, 10)
		}
		cw.Write([]string{
			rfc3339(r.Time), rfc3339(r.Started), dur, r.Station, strconv.Itoa(r.Job), r.Profile, string(r.Result),
			r.FailedStep, r.Error, r.Device.Name, r.Device.Port, r.Device.Serial, r.Device.VendorID,
			r.Device.ProductID, strconv.FormatInt(r.Device.Size, 10), diskseq, r.Label,
			strconv.FormatInt(r.BytesWritten, 10), strconv.FormatInt(r.BytesVerified, 10), tp,
			vok, vfiles, vfailed, r.ConfigDigest, r.ManifestDigest,
		})
	}
	cw.Flush()
	return cw.Error()
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}
