// Package envflag reads a flag set's flags from the command line and then
// from environment variables, and remembers where each value came from, so
// that messages can name the variable a wrong value came from and a value
// taken from the environment can be dropped again.
//
// It does what m-lab/go's flagx.ArgsFromEnv does, without its logging:
// that logs the values of flags set twice, and a value may be a secret
// (flagx.FileBytes' String is the file's contents). This package keeps and
// reports the names of flags and variables, never their values.
package envflag

import (
	"flag"
	"fmt"
	"slices"

	"github.com/m-lab/go/flagx"
)

// Names says which environment variables a flag is read from.
type Names struct {
	// Prefix starts every flag's variable, followed by the flag's name
	// made a shell variable name by flagx.MakeShellVariableName: with
	// Prefix "APP_", -cache-dir is read from APP_CACHE_DIR.
	Prefix string
	// Also maps a flag to one more variable, read when the prefixed one
	// is unset or empty.
	Also map[string]string
	// Never lists the flags never read from the environment.
	Never []string
}

// Of returns the variables flag name is read from, the one that wins
// first; none for a flag never read from the environment.
func (n Names) Of(name string) []string {
	if slices.Contains(n.Never, name) {
		return nil
	}
	vars := []string{n.Prefix + flagx.MakeShellVariableName(name)}
	if also, ok := n.Also[name]; ok {
		vars = append(vars, also)
	}
	return vars
}

// Environment is where Parse reads flags from after the command line.
type Environment struct {
	// Names are the variables of each flag.
	Names Names
	// LookupEnv reads a variable, as os.LookupEnv does.
	LookupEnv func(string) (string, bool)
	// Skip, if not nil, is called once the command line is parsed;
	// when it returns true, no flag takes a value from the environment,
	// and Present still lists the variables that are there. A flag such
	// as -read-env=false uses it; such a flag belongs in Names.Never.
	Skip func() bool
	// Invalid, if not nil, is called with a variable whose value its flag
	// refuses. It returns nil to pass over the variable (the flag's next
	// variable is then read), or the error Parse returns. Without it,
	// Parse returns the *ValueError.
	Invalid func(*ValueError) error
}

// ValueError is a variable whose value its flag refuses.
type ValueError struct {
	Var  string // the variable
	Flag string // the flag's name
	Err  error  // what the flag's Set returned
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("environment variable %s: invalid value for -%s: %v", e.Var, e.Flag, e.Err)
}

func (e *ValueError) Unwrap() error { return e.Err }

// A Resetter is a flag.Value that Set cannot put back to its default, such
// as a repeatable flag's, whose Set appends. Drop calls Reset instead.
type Resetter interface {
	flag.Value
	Reset()
}

// Set is a flag set parsed from the command line and the environment: it
// says where each flag's value came from.
type Set struct {
	fs            *flag.FlagSet
	onCommandLine map[string]bool
	fromVar       map[string]string // flag → the variable its value came from
	read          []string          // "VAR (-flag)", in the order read
	present       []string          // the variables of env.Names that are set
}

// Parse parses args with fs, and then sets each flag that is not on the
// command line from the first of its variables that holds a value: empty
// variables count as unset. The flags are read in fs.VisitAll's order, and
// Parse stops at the first error: fs.Parse's, or a variable's (see
// Environment.Invalid).
func Parse(fs *flag.FlagSet, args []string, env Environment) (*Set, error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	s := &Set{fs: fs, onCommandLine: map[string]bool{}, fromVar: map[string]string{}}
	fs.Visit(func(f *flag.Flag) { s.onCommandLine[f.Name] = true })
	skip := env.Skip != nil && env.Skip()
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		for _, name := range env.Names.Of(f.Name) {
			value, ok := env.LookupEnv(name)
			if !ok {
				continue
			}
			s.present = append(s.present, name)
			if skip || s.onCommandLine[f.Name] || s.fromVar[f.Name] != "" || value == "" || err != nil {
				continue
			}
			if serr := fs.Set(f.Name, value); serr != nil {
				verr := &ValueError{Var: name, Flag: f.Name, Err: serr}
				if env.Invalid == nil {
					err = verr
				} else {
					err = env.Invalid(verr)
				}
				continue
			}
			s.fromVar[f.Name] = name
			s.read = append(s.read, fmt.Sprintf("%s (-%s)", name, f.Name))
		}
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(s.present)
	return s, nil
}

// OnCommandLine reports whether flag name was given on the command line.
func (s *Set) OnCommandLine(name string) bool { return s.onCommandLine[name] }

// IsSet reports whether flag name was given, on the command line or in the
// environment, and not dropped since.
func (s *Set) IsSet(name string) bool { return s.onCommandLine[name] || s.fromVar[name] != "" }

// Origin names where flag name's value came from, for messages: "-name",
// or "-name (from VARIABLE)".
func (s *Set) Origin(name string) string {
	if v := s.fromVar[name]; v != "" {
		return "-" + name + " (from " + v + ")"
	}
	return "-" + name
}

// Drop puts flag name back to its default if its value came from the
// environment, and returns the variable it came from; otherwise it does
// nothing and returns "". The flag's Value must take its default back
// with Set, or be a Resetter.
func (s *Set) Drop(name string) string {
	v := s.fromVar[name]
	if v == "" {
		return ""
	}
	f := s.fs.Lookup(name)
	if r, ok := f.Value.(Resetter); ok {
		r.Reset()
	} else if err := f.Value.Set(f.DefValue); err != nil {
		panic(fmt.Sprintf("envflag: -%s cannot be dropped: its default %q does not parse (%v); make its Value a Resetter", name, f.DefValue, err))
	}
	delete(s.fromVar, name)
	return v
}

// FromEnv lists, for a debug log, each variable a flag took its value
// from, as "VARIABLE (-flag)", in the order read; dropped ones too.
func (s *Set) FromEnv() []string { return slices.Clone(s.read) }

// Present returns the variables of the flags that are set in the
// environment, empty or not, read or not, sorted.
func (s *Set) Present() []string { return slices.Clone(s.present) }

// VisitAll calls fn for each flag of the flag set, in lexicographical
// order, set or not, as flag.FlagSet.VisitAll does.
func (s *Set) VisitAll(fn func(*flag.Flag)) { s.fs.VisitAll(fn) }
