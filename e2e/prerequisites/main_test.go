package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestMissing(t *testing.T) {
	tests := []struct {
		name     string
		commands []string // on PATH
		files    []string // present
		want     []string // missing packages
	}{
		{
			name:     "all present",
			commands: []string{"gcc"},
			files:    []string{"/usr/include/netinet/tcp.h", "/usr/include/linux/inet_diag.h"},
		},
		{
			name:  "no compiler",
			files: []string{"/usr/include/netinet/tcp.h", "/usr/include/linux/inet_diag.h"},
			want:  []string{"gcc"},
		},
		{
			name:     "no C library headers",
			commands: []string{"gcc"},
			files:    []string{"/usr/include/linux/inet_diag.h"},
			want:     []string{"libc6-dev"},
		},
		{
			name:     "no Linux headers",
			commands: []string{"gcc"},
			files:    []string{"/usr/include/netinet/tcp.h"},
			want:     []string{"linux-libc-dev"},
		},
		{
			name: "nothing",
			want: []string{"gcc", "libc6-dev", "linux-libc-dev"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookPath := func(c string) (string, error) {
				if slices.Contains(tt.commands, c) {
					return "/usr/bin/" + c, nil
				}
				return "", errors.New("not found")
			}
			exists := func(f string) bool { return slices.Contains(tt.files, f) }
			var got []string
			for _, r := range missing(lookPath, exists) {
				got = append(got, r.pkg)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("missing = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestReport checks that the message names what is missing and gives the
// command that installs exactly that.
func TestReport(t *testing.T) {
	var b strings.Builder
	report(&b, []requirement{requirements[0], requirements[2]})
	for _, want := range []string{
		"gcc: a C compiler (gcc on PATH)",
		"linux-libc-dev: Linux's headers (/usr/include/linux/inet_diag.h)",
		"\n  sudo apt-get install --no-install-recommends gcc linux-libc-dev\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "libc6-dev") {
		t.Errorf("report names libc6-dev, which is present:\n%s", b.String())
	}
}
