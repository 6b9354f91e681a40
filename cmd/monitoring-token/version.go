package main

import (
	"runtime/debug"
	"strings"
)

// release is the release tag, stamped by make build from git describe with
// -ldflags '-X main.release=…'; empty in any other build.
var release string

// version is what -version prints and the User-Agent carries.
func version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(release, bi)
}

// versionOf returns one version: the stamped release, else the module
// version with the VCS revision, each shown once. A pseudo-version
// (v0.0.0-20250101120000-0123456789ab) holds the revision already, and
// "(devel)", what go build says without a module version, is left out.
// bi may be nil (no build information).
func versionOf(release string, bi *debug.BuildInfo) string {
	if release != "" {
		return release
	}
	if bi == nil {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "(devel)" {
		v = ""
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
	case rev == "" && v == "":
		return "unknown"
	case rev == "" || strings.Contains(v, rev):
		return v
	case v == "":
		if modified {
			rev += "+dirty"
		}
		return rev
	}
	return v + " " + rev
}
