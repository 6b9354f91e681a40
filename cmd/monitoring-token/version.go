package main

import "runtime/debug"

// version is what -version prints and the User-Agent carries.
func version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(bi)
}

// versionOf returns the version the go command recorded from git: the tag
// when the checkout is exactly at one (v1.2.0), else a pseudo-version that
// holds the revision (v1.2.1-0.20260101120000-0123456789ab), with "+dirty"
// for a modified tree, and for go install MODULE@VERSION that version. The
// same checkout gives the same line whether built by make build, go build
// or go install. Without a module version ("(devel)", as when VCS stamping
// is off) it falls back on the VCS revision. bi may be nil (no build
// information).
func versionOf(bi *debug.BuildInfo) string {
	if bi == nil {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	switch {
	case rev == "":
		return "unknown"
	case modified:
		return rev + "+dirty"
	}
	return rev
}
