// Package docblock reads the fenced code blocks of the project's Markdown
// docs and the markers above them, for the tests that run the docs'
// examples (see docs/development.md, "The docs are tested").
//
// A marker is an HTML comment on a line of its own right above a block,
// blank lines between allowed:
//
//	<!-- test: NAME -->  run by cmd/monitoring-token's tests
//	<!-- e2e: NAME -->   run there and by the e2e module
//	<!-- not run: WHY -->
//
// The Markdown is read by goldmark, as CommonMark: fences of backticks or
// tildes, blocks indented in list items.
package docblock

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// Block is a fenced code block.
type Block struct {
	Lang    string   // the first word after the opening fence
	Text    string   // the lines between the fences, each ending in "\n", without a list item's indentation
	Line    int      // the opening fence's, from 1
	Markers []string // the texts of the HTML comments right above it, in order
}

// Named returns the kind ("test" or "e2e") and name of the block's first
// <!-- test: NAME --> or <!-- e2e: NAME --> marker, or two empty strings.
func (b Block) Named() (kind, name string) {
	for _, m := range b.Markers {
		if kind, name, ok := named(m); ok {
			return kind, name
		}
	}
	return "", ""
}

// named splits a marker "test: NAME" or "e2e: NAME".
func named(marker string) (kind, name string, ok bool) {
	kind, name, ok = strings.Cut(marker, ":")
	if !ok || (kind != "test" && kind != "e2e") {
		return "", "", false
	}
	return kind, strings.TrimSpace(name), true
}

// comment matches an HTML comment alone on its line.
var comment = regexp.MustCompile(`^\s*<!--\s*(.*?)\s*-->\s*$`)

// Parse returns the fenced code blocks of a Markdown text in order. It
// fails for a block that does not end and for a test or e2e marker that
// is not followed by a block.
func Parse(markdown []byte) ([]Block, error) {
	doc := goldmark.DefaultParser().Parse(text.NewReader(markdown))
	var blocks []Block
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.HTMLBlock:
			if m, ok := markerOf(n, markdown); ok {
				if _, name, isNamed := named(m); isNamed && !followedByBlock(n, markdown) {
					return ast.WalkStop, fmt.Errorf("line %d: marker %q is not followed by a fenced code block", lineOf(markdown, n.Lines().At(0).Start), name)
				}
			}
		case *ast.FencedCodeBlock:
			b, err := blockOf(n, markdown)
			if err != nil {
				return ast.WalkStop, err
			}
			blocks = append(blocks, b)
		}
		return ast.WalkContinue, nil
	})
	return blocks, err
}

// blockOf returns the block of a fenced code block node.
func blockOf(n *ast.FencedCodeBlock, markdown []byte) (Block, error) {
	b := Block{Lang: string(n.Language(markdown)), Line: lineOf(markdown, n.Pos())}
	var body strings.Builder
	end := lineEnd(markdown, n.Pos()) // of the opening fence
	for i := range n.Lines().Len() {
		seg := n.Lines().At(i)
		body.Write(seg.Value(markdown))
		end = seg.Stop
	}
	b.Text = body.String()
	// CommonMark ends an unclosed block with its container; the line
	// after the block must be a closing fence.
	next := bytes.TrimSpace(firstLine(markdown[end:]))
	if !bytes.HasPrefix(next, []byte("```")) && !bytes.HasPrefix(next, []byte("~~~")) {
		return Block{}, fmt.Errorf("line %d: the block does not end", b.Line)
	}
	for p := n.PreviousSibling(); p != nil; p = p.PreviousSibling() {
		h, ok := p.(*ast.HTMLBlock)
		if !ok {
			break
		}
		m, ok := markerOf(h, markdown)
		if !ok {
			break
		}
		b.Markers = append([]string{m}, b.Markers...)
	}
	return b, nil
}

// markerOf returns the text of an HTML block that is one comment on one
// line.
func markerOf(n *ast.HTMLBlock, markdown []byte) (string, bool) {
	var raw []byte
	for i := range n.Lines().Len() {
		seg := n.Lines().At(i)
		raw = append(raw, seg.Value(markdown)...)
	}
	if n.HasClosure() {
		closure := n.ClosureLine
		raw = append(raw, closure.Value(markdown)...)
	}
	m := comment.FindSubmatch(bytes.TrimSpace(raw))
	if m == nil || bytes.Count(bytes.TrimSpace(raw), []byte("\n")) > 0 {
		return "", false
	}
	return string(m[1]), true
}

// followedByBlock reports whether the next block after a marker, other
// markers aside, is a fenced code block.
func followedByBlock(n ast.Node, markdown []byte) bool {
	for s := n.NextSibling(); s != nil; s = s.NextSibling() {
		switch s := s.(type) {
		case *ast.FencedCodeBlock:
			return true
		case *ast.HTMLBlock:
			if _, ok := markerOf(s, markdown); ok {
				continue
			}
		}
		return false
	}
	return false
}

// lineOf returns the line, from 1, of a byte offset.
func lineOf(markdown []byte, offset int) int {
	return bytes.Count(markdown[:offset], []byte("\n")) + 1
}

// lineEnd returns the offset just past the line feed that ends the line
// holding offset, or len(markdown).
func lineEnd(markdown []byte, offset int) int {
	if i := bytes.IndexByte(markdown[offset:], '\n'); i >= 0 {
		return offset + i + 1
	}
	return len(markdown)
}

// firstLine returns b up to its first line feed.
func firstLine(b []byte) []byte {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return line
}
