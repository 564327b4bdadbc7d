package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// listFlag is a repeatable string flag.
type listFlag struct {
	values []string
	set    bool // the first Set replaces the default
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }

func (l *listFlag) Set(v string) error {
	if !l.set {
		l.values, l.set = nil, true
	}
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			l.values = append(l.values, part)
		}
	}
	return nil
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cvecrowd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse reads CVECROWD_<FLAG> variables for every flag not given on the
// command line, then the command line itself.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		env := "CVECROWD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		// An empty variable counts as unset: CVECROWD_LISTEN= must not
		// turn into "listen on every interface".
		if v := os.Getenv(env); v != "" {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	return err
}
