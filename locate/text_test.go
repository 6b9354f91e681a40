package locate

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestErrorTextIsOneBoundedLine(t *testing.T) {
	tests := []struct {
		name          string
		title, detail string
		want          string
	}{
		{name: "plain", title: "Bad Request", detail: "no such service", want: "locate refused the request: Bad Request: no such service (HTTP 400)"},
		{name: "forged log line", title: "x\nmonitoring-token: probe passed", want: "locate refused the request: x\uFFFDmonitoring-token: probe passed (HTTP 400)"},
		{name: "terminal escape", title: "\x1b[2Jgone", want: "locate refused the request: \uFFFD[2Jgone (HTTP 400)"},
		{name: "invalid UTF-8 and bidi", title: "a\xffb\u202ec", want: "locate refused the request: a\uFFFDb\uFFFDc (HTTP 400)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Error{Title: tt.title, Detail: tt.detail, Status: 400}
			if got := e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	long := (&Error{Title: strings.Repeat("t", 20000), Detail: strings.Repeat("d", 20000)}).Error()
	if n := utf8.RuneCountInString(long); n > 2*maxText+64 {
		t.Errorf("a 40,000-character problem gives a %d-character message", n)
	}
}
