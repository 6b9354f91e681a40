package main

import (
	"runtime/debug"
	"testing"
)

// TestVersionOf: one version, each part once, no "(devel)".
func TestVersionOf(t *testing.T) {
	t.Parallel()
	const rev = "0123456789abcdef0123456789abcdef01234567"
	build := func(version string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/monitoring-token/monitoring-token", Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{name: "pseudo-version holds the revision", bi: build("v0.0.0-20260101120000-0123456789ab+dirty", "vcs.revision", rev, "vcs.modified", "true"), want: "v0.0.0-20260101120000-0123456789ab+dirty"},
		{name: "at a tag", bi: build("v1.2.0", "vcs.revision", rev), want: "v1.2.0"},
		{name: "go install of a tag", bi: build("v1.2.0"), want: "v1.2.0"},
		{name: "devel with a revision", bi: build("(devel)", "vcs.revision", rev), want: "0123456789ab"},
		{name: "devel with a modified tree", bi: build("(devel)", "vcs.revision", rev, "vcs.modified", "true"), want: "0123456789ab+dirty"},
		{name: "no stamping at all", bi: build("(devel)"), want: "unknown"},
		{name: "no build information", want: "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(tt.bi); got != tt.want {
				t.Errorf("versionOf = %q, want %q", got, tt.want)
			}
		})
	}
}
