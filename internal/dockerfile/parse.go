package dockerfile

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
)

// maxLine is the longest line read, as Docker's frontend allows.
const maxLine = 64*1024 - 1

// Parse reads a Dockerfile.
func Parse(data []byte) (*Result, error) {
	p := &parser{escape: '\\', seen: map[string]bool{}}
	root := &Node{StartLine: -1}
	lines := splitLines(bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF}))
	for i, l := range lines {
		if len(strings.TrimSuffix(l, "\n")) > maxLine {
			return nil, &Error{Line: i + 1, Msg: fmt.Sprintf("dockerfile line greater than max allowed size of %d", maxLine)}
		}
	}
	lineNo := 0
	next := func() (string, bool) {
		if lineNo >= len(lines) {
			return "", false
		}
		lineNo++
		return lines[lineNo-1], true
	}
	for {
		raw, ok := next()
		if !ok {
			break
		}
		text, err := p.readLine(raw, lineNo, true)
		if err != nil {
			return nil, err
		}
		start := lineNo
		text, more := p.trimContinuation(text)
		if !more && text == "" {
			continue
		}
		var b strings.Builder
		b.WriteString(text)
		for more {
			raw, ok := next()
			if !ok {
				break
			}
			text, err := p.readLine(raw, lineNo, false)
			if err != nil {
				return nil, err
			}
			// Comments and empty lines inside a continued line are
			// skipped.
			if isComment(raw) || strings.TrimLeftFunc(text, unicode.IsSpace) == "" {
				continue
			}
			text, more = p.trimContinuation(text)
			b.WriteString(text)
		}
		line := b.String()
		n, err := p.instruction(line)
		if err != nil {
			return nil, &Error{Line: start, Msg: err.Error()}
		}
		if n.takesHeredocs() && strings.Contains(line, "<<") {
			docs, err := heredocsOf(line)
			if err != nil {
				return nil, &Error{Line: start, Msg: err.Error()}
			}
			for _, hd := range docs {
				terminated := false
				for !terminated {
					raw, ok := next()
					if !ok {
						return nil, &Error{Line: start, Msg: "unterminated heredoc"}
					}
					end := strings.TrimRight(raw, "\r\n")
					if hd.Chomp {
						end = strings.TrimLeft(end, "\t")
					}
					if end == hd.Name {
						terminated = true
					} else {
						hd.Content += raw
					}
				}
				n.Heredocs = append(n.Heredocs, hd)
			}
		}
		n.StartLine, n.EndLine = start, lineNo
		if root.StartLine < 0 {
			root.StartLine = start
		}
		root.EndLine = lineNo
		root.Children = append(root.Children, n)
	}
	if root.StartLine < 0 {
		return nil, &Error{Line: lineNo, Msg: "file with no instructions"}
	}
	return &Result{AST: root, EscapeToken: p.escape, Directives: p.directives}, nil
}

// splitLines cuts data into lines that keep their "\n" (heredocs keep
// them as written).
func splitLines(data []byte) []string {
	var lines []string
	s := string(data)
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// parser is the state one Dockerfile's reading needs: the escape
// character and the directives seen at its head.
type parser struct {
	escape     rune
	directives []Directive
	seen       map[string]bool
	dirLine    int
	dirDone    bool
}

// readLine takes a line's end off, and with first (the line starts an
// instruction) its leading blanks. A comment reads as an empty line.
func (p *parser) readLine(raw string, lineNo int, first bool) (string, error) {
	t := strings.TrimRight(raw, "\r\n")
	if first {
		t = strings.TrimLeftFunc(t, unicode.IsSpace)
	}
	if err := p.directive(t); err != nil {
		return "", &Error{Line: lineNo, Msg: err.Error()}
	}
	if isComment(t) {
		return "", nil
	}
	return t, nil
}

func isComment(line string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "#")
}

// trimContinuation takes the escape character that continues a line (and
// the blanks after it) off the line's end; more says it was there. An
// escaped escape character does not continue the line.
func (p *parser) trimContinuation(line string) (string, bool) {
	t := strings.TrimRight(line, " \t")
	esc := string(p.escape)
	if !strings.HasSuffix(t, esc) {
		return line, false
	}
	t = t[:len(t)-len(esc)]
	if strings.HasSuffix(t, esc) {
		return line, false
	}
	return t, true
}

// directive reads a parser directive ("# escape=\`"). Directives are
// only at the head of the file: the first line that is not one ends them.
func (p *parser) directive(line string) error {
	p.dirLine++
	if p.dirDone {
		return nil
	}
	name, value, ok := splitDirective(line)
	if !ok {
		p.dirDone = true
		return nil
	}
	name = strings.ToLower(name)
	switch name {
	case "syntax", "escape", "check":
	default:
		p.dirDone = true
		return nil
	}
	if p.seen[name] {
		return fmt.Errorf("only one %s parser directive can be used", name)
	}
	p.seen[name] = true
	if name == "escape" {
		if value != "`" && value != `\` {
			return fmt.Errorf("invalid escape token '%s' does not match ` or \\", value)
		}
		p.escape = rune(value[0])
	}
	p.directives = append(p.directives, Directive{Name: name, Value: value, Line: p.dirLine})
	return nil
}

// splitDirective reads `#name=value`, with blanks allowed around the name
// and the "=".
func splitDirective(line string) (name, value string, ok bool) {
	const blanks = "\t\n\f\r "
	rest, found := strings.CutPrefix(line, "#")
	if !found {
		return "", "", false
	}
	rest = strings.TrimLeft(rest, blanks)
	i := 0
	for i < len(rest) && (isLetter(rest[i]) || i > 0 && rest[i] >= '0' && rest[i] <= '9') {
		i++
	}
	if i == 0 {
		return "", "", false
	}
	name, rest = rest[:i], strings.TrimLeft(rest[i:], blanks)
	rest, found = strings.CutPrefix(rest, "=")
	if !found {
		return "", "", false
	}
	value = strings.Trim(rest, blanks)
	if value == "" {
		return "", "", false
	}
	return name, value, true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
