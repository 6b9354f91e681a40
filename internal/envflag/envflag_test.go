package envflag_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/monitoring-token/monitoring-token/internal/envflag"
)

// names are the variables of the test's flags.
var names = envflag.Names{
	Prefix: "APP_",
	Also:   map[string]string{"n": "OLD_N", "z": "AA_Z"},
	Never:  []string{"v"},
}

// list is a repeatable flag: Set appends, so it is a Resetter.
type list []string

func (l *list) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *list) Set(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	*l = append(*l, s)
	return nil
}

func (l *list) Reset() { *l = nil }

// newFlagSet defines -a (default "def"), -n (an int, also from OLD_N), -v
// (never read from the environment), -log-level, -list and -z (also from
// AA_Z, which sorts before the other flags' variables).
func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("a", "def", "")
	fs.Int("n", 0, "")
	fs.Bool("v", false, "")
	fs.String("log-level", "", "")
	fs.Var(new(list), "list", "")
	fs.String("z", "", "")
	return fs
}

// values renders every flag's value, as "a=… list=… …" in name order.
func values(fs *flag.FlagSet) string {
	var s []string
	fs.VisitAll(func(f *flag.Flag) { s = append(s, f.Name+"="+f.Value.String()) })
	return strings.Join(s, " ")
}

// lookup looks variables up in env, a list of NAME=VALUE.
func lookup(env []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for _, kv := range env {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				return v, true
			}
		}
		return "", false
	}
}

func TestNamesOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		flag string
		want string
	}{
		{flag: "a", want: "APP_A"},
		{flag: "log-level", want: "APP_LOG_LEVEL"},
		{flag: "logx.debug", want: "APP_LOGX_DEBUG"},
		{flag: "n", want: "APP_N OLD_N"},
		{flag: "v", want: ""},
	} {
		if got := strings.Join(names.Of(tt.flag), " "); got != tt.want {
			t.Errorf("Of(%q) = %q, want %q", tt.flag, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	const defaults = "a=def list= log-level= n=0 v=false z="
	tests := []struct {
		name    string
		args    []string
		env     []string
		skip    bool
		invalid func(*envflag.ValueError) error
		err     string
		values  string
		cmdLine string // the flags on the command line
		origins string // Origin of -a and -n
		fromEnv string
		present string
	}{
		{name: "nothing", values: defaults, origins: "-a -n"},
		{
			name:    "command line",
			args:    []string{"-a=x", "-n", "2", "--", "cmd", "-a=y"},
			values:  "a=x list= log-level= n=2 v=false z=",
			cmdLine: "a n",
			origins: "-a -n",
		},
		{
			name:    "prefixed variables",
			env:     []string{"APP_A=x", "APP_LOG_LEVEL=debug", "APP_LIST=p", "APP_N=2", "A=no", "N=3"},
			values:  "a=x list=p log-level=debug n=2 v=false z=",
			origins: "-a (from APP_A) -n (from APP_N)",
			fromEnv: "APP_A (-a), APP_LIST (-list), APP_LOG_LEVEL (-log-level), APP_N (-n)",
			present: "APP_A APP_LIST APP_LOG_LEVEL APP_N",
		},
		{
			name:    "the command line wins",
			args:    []string{"-a=x", "-n=1"},
			env:     []string{"APP_A=y", "APP_N=2", "OLD_N=3"},
			values:  "a=x list= log-level= n=1 v=false z=",
			cmdLine: "a n",
			origins: "-a -n",
			present: "APP_A APP_N OLD_N",
		},
		{
			name:    "the prefixed variable wins",
			env:     []string{"APP_N=2", "OLD_N=3"},
			values:  "a=def list= log-level= n=2 v=false z=",
			origins: "-a -n (from APP_N)",
			fromEnv: "APP_N (-n)",
			present: "APP_N OLD_N",
		},
		{
			name:    "an empty variable is unset",
			env:     []string{"APP_A=", "APP_N=", "OLD_N=3"},
			values:  "a=def list= log-level= n=3 v=false z=",
			origins: "-a -n (from OLD_N)",
			fromEnv: "OLD_N (-n)",
			present: "APP_A APP_N OLD_N",
		},
		{
			name:    "present variables sorted",
			env:     []string{"APP_A=x", "AA_Z=y"},
			values:  "a=x list= log-level= n=0 v=false z=y",
			origins: "-a (from APP_A) -n",
			fromEnv: "APP_A (-a), AA_Z (-z)",
			present: "AA_Z APP_A",
		},
		{
			name:    "never from the environment",
			env:     []string{"APP_V=true", "V=true"},
			values:  defaults,
			origins: "-a -n",
		},
		{
			name:    "skipped",
			args:    []string{"-v"},
			env:     []string{"APP_A=x", "OLD_N=3"},
			skip:    true,
			values:  "a=def list= log-level= n=0 v=true z=",
			cmdLine: "v",
			origins: "-a -n",
			present: "APP_A OLD_N",
		},
		{name: "a bad argument", args: []string{"-nope"}, err: "flag provided but not defined: -nope"},
		{name: "help", args: []string{"-h"}, err: flag.ErrHelp.Error()},
		{name: "a bad value", env: []string{"APP_N=x"}, err: "environment variable APP_N: invalid value for -n: parse error"},
		{
			name: "the first bad value",
			env:  []string{"APP_A=ok", "APP_N=x", "APP_LIST="},
			err:  "environment variable APP_N: invalid value for -n: parse error",
		},
		{
			name:    "a bad value passed over",
			env:     []string{"APP_N=x", "OLD_N=3"},
			invalid: func(*envflag.ValueError) error { return nil },
			values:  "a=def list= log-level= n=3 v=false z=",
			origins: "-a -n (from OLD_N)",
			fromEnv: "OLD_N (-n)",
			present: "APP_N OLD_N",
		},
		{
			name:    "a bad value refused by Invalid",
			env:     []string{"APP_N=x", "OLD_N=3"},
			invalid: func(e *envflag.ValueError) error { return fmt.Errorf("%s for %s", e.Var, e.Flag) },
			err:     "APP_N for n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet()
			s, err := envflag.Parse(fs, tt.args, envflag.Environment{
				Names:     names,
				LookupEnv: lookup(tt.env),
				Skip:      func() bool { return tt.skip },
				Invalid:   tt.invalid,
			})
			if tt.err != "" || err != nil {
				if err == nil || err.Error() != tt.err || s != nil {
					t.Fatalf("Parse: %v, %v; want nil and %q", s, err, tt.err)
				}
				return
			}
			if got := values(fs); got != tt.values {
				t.Errorf("values %s\nwant   %s", got, tt.values)
			}
			if got := s.Origin("a") + " " + s.Origin("n"); got != tt.origins {
				t.Errorf("origins %q, want %q", got, tt.origins)
			}
			if got := strings.Join(s.FromEnv(), ", "); got != tt.fromEnv {
				t.Errorf("FromEnv %q, want %q", got, tt.fromEnv)
			}
			if got := strings.Join(s.Present(), " "); got != tt.present {
				t.Errorf("Present %q, want %q", got, tt.present)
			}
			fs.VisitAll(func(f *flag.Flag) {
				onCommandLine := slices.Contains(strings.Fields(tt.cmdLine), f.Name)
				if s.OnCommandLine(f.Name) != onCommandLine {
					t.Errorf("OnCommandLine(%q) = %v, want %v", f.Name, s.OnCommandLine(f.Name), onCommandLine)
				}
				fromEnv := strings.Contains(tt.fromEnv, "(-"+f.Name+")")
				_, v, _ := strings.Cut(strings.TrimSuffix(s.Origin(f.Name), ")"), " (from ")
				if (v != "") != fromEnv || fromEnv && !strings.Contains(tt.fromEnv, v+" (-"+f.Name+")") {
					t.Errorf("Origin(%q) = %q, want the variable in %q", f.Name, s.Origin(f.Name), tt.fromEnv)
				}
				if want := onCommandLine || fromEnv; s.IsSet(f.Name) != want {
					t.Errorf("IsSet(%q) = %v, want %v", f.Name, s.IsSet(f.Name), want)
				}
			})
		})
	}
}

// TestValueError: a variable's bad value is a *ValueError that names the
// variable and the flag, and wraps the flag's error.
func TestValueError(t *testing.T) {
	t.Parallel()
	_, err := envflag.Parse(newFlagSet(), nil, envflag.Environment{Names: names, LookupEnv: lookup([]string{"OLD_N=x"})})
	var verr *envflag.ValueError
	if !errors.As(err, &verr) || verr.Var != "OLD_N" || verr.Flag != "n" || !errors.Is(err, verr.Err) || verr.Err == nil {
		t.Errorf("Parse: %#v; want a *ValueError for OLD_N and -n", err)
	}
}

func TestDrop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		env    []string
		drop   string
		want   string // the variable Drop returns
		values string // after Drop
	}{
		{name: "from the environment", env: []string{"APP_A=x", "APP_N=2"}, drop: "a", want: "APP_A", values: "a=def list= log-level= n=2 v=false z="},
		{name: "from the second variable", env: []string{"OLD_N=3"}, drop: "n", want: "OLD_N", values: "a=def list= log-level= n=0 v=false z="},
		{name: "a Resetter", env: []string{"APP_LIST=p"}, drop: "list", want: "APP_LIST", values: "a=def list= log-level= n=0 v=false z="},
		{name: "on the command line", args: []string{"-a=x"}, env: []string{"APP_A=y"}, drop: "a", want: "", values: "a=x list= log-level= n=0 v=false z="},
		{name: "not set", drop: "a", want: "", values: "a=def list= log-level= n=0 v=false z="},
		{name: "no such flag", drop: "nope", want: "", values: "a=def list= log-level= n=0 v=false z="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet()
			s, err := envflag.Parse(fs, tt.args, envflag.Environment{Names: names, LookupEnv: lookup(tt.env)})
			if err != nil {
				t.Fatal(err)
			}
			fromEnv := strings.Join(s.FromEnv(), ", ")
			wasSet := s.IsSet(tt.drop)
			if got := s.Drop(tt.drop); got != tt.want {
				t.Errorf("Drop(%q) = %q, want %q", tt.drop, got, tt.want)
			}
			if got := values(fs); got != tt.values {
				t.Errorf("values %s\nwant   %s", got, tt.values)
			}
			if tt.want == "" {
				if s.IsSet(tt.drop) != wasSet {
					t.Errorf("IsSet(%q) changed without a drop", tt.drop)
				}
				return
			}
			if s.IsSet(tt.drop) || s.Origin(tt.drop) != "-"+tt.drop {
				t.Errorf("after Drop: IsSet %v, Origin %q; want false and -%s", s.IsSet(tt.drop), s.Origin(tt.drop), tt.drop)
			}
			if got := strings.Join(s.FromEnv(), ", "); got != fromEnv {
				t.Errorf("FromEnv %q after Drop, want %q as before", got, fromEnv)
			}
			if got := s.Drop(tt.drop); got != "" {
				t.Errorf("a second Drop(%q) = %q, want \"\"", tt.drop, got)
			}
		})
	}
}

// TestDropWithoutReset: a Value that cannot take its default back and is
// no Resetter is a programming error, named in the panic.
func TestDropWithoutReset(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.Func("f", "", func(s string) error {
		if s == "" {
			return errors.New("empty")
		}
		return nil
	})
	s, err := envflag.Parse(fs, nil, envflag.Environment{Names: names, LookupEnv: lookup([]string{"APP_F=x"})})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if p := fmt.Sprint(recover()); !strings.Contains(p, "-f cannot be dropped") || !strings.Contains(p, "Resetter") {
			t.Errorf("panic %q; want one naming -f and Resetter", p)
		}
	}()
	s.Drop("f")
}

// TestNoValuesKept: a Set keeps names, never values, which may be secrets.
func TestNoValuesKept(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value"
	fs := newFlagSet()
	s, err := envflag.Parse(fs, []string{"-log-level=" + secret}, envflag.Environment{Names: names, LookupEnv: lookup([]string{"APP_A=" + secret, "OLD_N=7"})})
	if err != nil {
		t.Fatal(err)
	}
	kept := fmt.Sprintf("%+v %q %q %q", *s, s.FromEnv(), s.Present(), s.Origin("a"))
	if strings.Contains(kept, secret) {
		t.Errorf("the Set keeps a value: %s", kept)
	}
	if fs.Lookup("a").Value.String() != secret {
		t.Errorf("-a = %q, want the variable's value", fs.Lookup("a").Value.String())
	}
}
