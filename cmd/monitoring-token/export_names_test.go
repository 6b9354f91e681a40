package main

import "testing"

func TestDerivedName(t *testing.T) {
	t.Parallel()
	tests := []struct{ key, want string }{
		{"wss:///ndt/v7/upload", "P_WSS_NDT_V7_UPLOAD"},
		{"wss://:4443/v0/envelope/access", "P_WSS_4443_V0_ENVELOPE_ACCESS"},
		{"https:///negotiate/dash", "P_HTTPS_NEGOTIATE_DASH"},
		{"--A--b--", "P_A_B"},
		{"é", ""},
	}
	for _, tt := range tests {
		got, ok := derivedName("P", tt.key)
		if tt.want == "" && ok || tt.want != "" && got != tt.want {
			t.Errorf("derivedName(P, %q) = %q, %v; want %q", tt.key, got, ok, tt.want)
		}
		if ok && !validEnvName(got) {
			t.Errorf("derivedName(P, %q) = %q is not a valid name", tt.key, got)
		}
	}
}
