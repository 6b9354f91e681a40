package exec_test

import (
	"slices"
	"testing"

	"github.com/monitoring-token/monitoring-token/exec"
)

func TestEnvSet(t *testing.T) {
	tests := []struct {
		name       string
		env        exec.Env
		key, value string
		want       exec.Env
	}{
		{"appends a new name", exec.Env{"A=1"}, "B", "2", exec.Env{"A=1", "B=2"}},
		{"replaces in place", exec.Env{"A=1", "B=2", "C=3"}, "B", "x", exec.Env{"A=1", "B=x", "C=3"}},
		{"drops duplicates", exec.Env{"B=1", "A=1", "B=2"}, "B", "x", exec.Env{"B=x", "A=1"}},
		{"empty value", exec.Env{"A=1"}, "A", "", exec.Env{"A="}},
		{"value with =", nil, "URL", "wss://h/p?access_token=a=b", exec.Env{"URL=wss://h/p?access_token=a=b"}},
		{"prefix is another name", exec.Env{"AB=1"}, "A", "2", exec.Env{"AB=1", "A=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.env)
			got := tt.env.Set(tt.key, tt.value)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Set(%q, %q) = %q, want %q", tt.key, tt.value, got, tt.want)
			}
			if !slices.Equal(tt.env, before) {
				t.Errorf("Set changed its receiver to %q", tt.env)
			}
		})
	}
}

func TestEnvUnset(t *testing.T) {
	tests := []struct {
		name string
		env  exec.Env
		key  string
		want exec.Env
	}{
		{"absent", exec.Env{"A=1"}, "B", exec.Env{"A=1"}},
		{"every copy", exec.Env{"B=1", "A=1", "B=2"}, "B", exec.Env{"A=1"}},
		{"prefix is another name", exec.Env{"AB=1", "A=2"}, "A", exec.Env{"AB=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.env)
			if got := tt.env.Unset(tt.key); !slices.Equal(got, tt.want) {
				t.Errorf("Unset(%q) = %q, want %q", tt.key, got, tt.want)
			}
			if !slices.Equal(tt.env, before) {
				t.Errorf("Unset changed its receiver to %q", tt.env)
			}
		})
	}
}

func TestEnvironCopies(t *testing.T) {
	t.Setenv("EXEC_TEST_ENVIRON", "1")
	env := exec.Environ()
	if !slices.Contains(env, "EXEC_TEST_ENVIRON=1") {
		t.Fatalf("Environ() lacks EXEC_TEST_ENVIRON=1")
	}
	env[0] = "CHANGED=1"
	if again := exec.Environ(); len(again) > 0 && again[0] == "CHANGED=1" {
		t.Errorf("changing Environ()'s result changed the next one")
	}
}

func TestEnvOnly(t *testing.T) {
	env := exec.Env{"PATH=/bin", "LD_PRELOAD=/tmp/x.so", "PATHX=1", "HOME=/h", "A=B=C"}
	keep := func(name string) bool { return name == "PATH" || name == "HOME" || name == "A" }
	before := slices.Clone(env)
	if got, want := env.Only(keep), (exec.Env{"PATH=/bin", "HOME=/h", "A=B=C"}); !slices.Equal(got, want) {
		t.Errorf("Only = %q, want %q", got, want)
	}
	if !slices.Equal(env, before) {
		t.Errorf("Only changed the Env it was called on: %q", env)
	}
}
