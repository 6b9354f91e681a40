package exec

import (
	"os"
	"strings"
)

// Env is a child's environment as "NAME=value" strings, the form os.Environ
// returns and execve(2) takes. Set and Unset return a new Env and leave the
// one they are called on unchanged, so an Env can be shared and built up
// step by step, as aws-vault builds its child's environment.
type Env []string

// Environ returns a copy of this process's environment.
func Environ() Env {
	return Env(os.Environ())
}

// Set returns e with NAME set to value: the first NAME entry is replaced in
// place, any later ones are dropped, and if there was none the entry is
// appended. name must not contain '='.
func (e Env) Set(name, value string) Env {
	entry := name + "=" + value
	out := make(Env, 0, len(e)+1)
	replaced := false
	for _, kv := range e {
		if envName(kv) != name {
			out = append(out, kv)
		} else if !replaced {
			out = append(out, entry)
			replaced = true
		}
	}
	if !replaced {
		out = append(out, entry)
	}
	return out
}

// Unset returns e without any NAME entry.
func (e Env) Unset(name string) Env {
	out := make(Env, 0, len(e))
	for _, kv := range e {
		if envName(kv) != name {
			out = append(out, kv)
		}
	}
	return out
}

// envName returns the NAME part of a "NAME=value" entry.
func envName(kv string) string {
	n, _, _ := strings.Cut(kv, "=")
	return n
}

// Only returns the entries of e whose name keep accepts.
func (e Env) Only(keep func(name string) bool) Env {
	out := make(Env, 0, len(e))
	for _, kv := range e {
		if keep(envName(kv)) {
			out = append(out, kv)
		}
	}
	return out
}
