package docblock_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/monitoring-token/monitoring-token/internal/docblock"
)

// TestParse checks the reader on blocks a doc may hold: a marked block, a
// block in a list item (its indentation removed), one without a marker,
// markers above one block.
func TestParse(t *testing.T) {
	text := "<!-- test: a -->\n```sh\necho a\n```\n\n1. Step:\n\n   <!-- not run: b -->\n   ```sh\n   echo b\n   ```\n\ntext\n```yaml\nk: v\n```\n\n<!-- note -->\n<!-- e2e: c -->\n\n~~~cron\n* * * * * true\n~~~\n"
	got, err := docblock.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []docblock.Block{
		{Lang: "sh", Text: "echo a\n", Line: 2, Markers: []string{"test: a"}},
		{Lang: "sh", Text: "echo b\n", Line: 9, Markers: []string{"not run: b"}},
		{Lang: "yaml", Text: "k: v\n", Line: 14},
		{Lang: "cron", Text: "* * * * * true\n", Line: 21, Markers: []string{"note", "e2e: c"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", got, want)
	}
	names := [][2]string{{"test", "a"}, {"", ""}, {"", ""}, {"e2e", "c"}}
	for i, b := range got {
		if kind, name := b.Named(); i < len(names) && (kind != names[i][0] || name != names[i][1]) {
			t.Errorf("block %d: Named() = %q, %q; want %q, %q", i, kind, name, names[i][0], names[i][1])
		}
	}
}

// TestParseRefuses: a block that does not end, and a named marker with no
// block under it.
func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name     string
		markdown string
		want     string // a fragment of the error
	}{
		{name: "marker without block", markdown: "<!-- e2e: cron -->\n\ntext\n", want: `line 1: marker "cron" is not followed by a fenced code block`},
		{name: "test marker at the end", markdown: "text\n\n<!-- test: x -->\n", want: `line 3: marker "x" is not followed`},
		{name: "block without end", markdown: "<!-- e2e: cron -->\n```cron\n* * * * * true\n", want: "line 2: the block does not end"},
		{name: "list item's block without end", markdown: "1. Step:\n\n   ```sh\n   echo\n\nafter\n", want: "line 3: the block does not end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := docblock.Parse([]byte(tt.markdown))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %+v, %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
}
