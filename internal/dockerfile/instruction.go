package dockerfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// argParser splits an instruction's arguments (flags already taken off)
// into its chain of nodes.
type argParser func(p *parser, rest string) (*Node, map[string]bool, error)

// argParserOf is how an instruction's arguments are split; nil for an
// instruction it does not know (the builder refuses those by name).
func argParserOf(name string) argParser {
	switch strings.ToLower(name) {
	case "add", "copy", "volume":
		return maybeJSONList
	case "cmd", "entrypoint", "run", "shell":
		return maybeJSON
	case "arg":
		return nameOrNameValues
	case "env":
		return func(p *parser, rest string) (*Node, map[string]bool, error) { return p.nameValues(rest, "ENV") }
	case "label":
		return func(p *parser, rest string) (*Node, map[string]bool, error) { return p.nameValues(rest, "LABEL") }
	case "expose", "from":
		return whitespaceWords
	case "healthcheck":
		return healthcheck
	case "maintainer", "stopsignal", "user", "workdir":
		return wholeString
	case "onbuild":
		return subInstruction
	}
	return nil
}

// blanks separate words in the argument forms that are not quote-aware.
const blanks = "\t\v\f\r "

// instruction reads one logical line: the instruction's name, its leading
// --flags, and its arguments.
func (p *parser) instruction(line string) (*Node, error) {
	name, rest, _ := cutBlanks(strings.TrimSpace(line))
	var flags []string
	if rest != "" {
		rest, flags = p.leadingFlags(rest)
	}
	rest = strings.TrimSpace(rest)
	n := &Node{Value: name, Original: line, Flags: flags}
	if parse := argParserOf(name); parse != nil {
		next, attrs, err := parse(p, rest)
		if err != nil {
			return nil, err
		}
		n.Next, n.Attributes = next, attrs
	} else {
		n.Next = &Node{} // as BuildKit's parser: an unknown instruction has one empty argument
	}
	return n, nil
}

// cutBlanks splits s at its first run of blanks.
func cutBlanks(s string) (before, after string, found bool) {
	i := strings.IndexAny(s, blanks)
	if i < 0 {
		return s, "", false
	}
	return s[:i], strings.TrimLeft(s[i:], blanks), true
}

// takesHeredocs says whether the instruction (or ONBUILD's trigger) reads
// here-documents: RUN, COPY and ADD in their shell form.
func (n *Node) takesHeredocs() bool {
	if strings.EqualFold(n.Value, "onbuild") && n.Next != nil && len(n.Next.Children) > 0 {
		n = n.Next.Children[0]
	}
	switch strings.ToLower(n.Value) {
	case "run", "copy", "add":
		return !n.Attributes["json"]
	}
	return false
}

// leadingFlags takes the --name=value words off the start of rest, quotes
// and escapes resolved. A lone "--" ends them.
func (p *parser) leadingFlags(rest string) (string, []string) {
	var flags []string
	i := 0
	for {
		for i < len(rest) && unicode.IsSpace(rune(rest[i])) {
			i++
		}
		if !strings.HasPrefix(rest[i:], "--") {
			return rest[i:], flags
		}
		var w strings.Builder
		quoted := false // an empty quoted value still makes a word
		var quote byte
		j := i
		for ; j < len(rest); j++ {
			c := rest[j]
			if quote == 0 && unicode.IsSpace(rune(c)) {
				break
			}
			switch {
			case quote == 0 && (c == '\'' || c == '"'):
				quote, quoted = c, true
				continue
			case quote != 0 && c == quote:
				quote = 0
				continue
			case rune(c) == p.escape:
				if j+1 == len(rest) {
					continue
				}
				j++
				c = rest[j]
			}
			w.WriteByte(c)
		}
		i = j
		word := w.String()
		if word == "--" {
			return rest[i:], flags
		}
		if quoted || word != "" {
			flags = append(flags, word)
		}
		if i >= len(rest) {
			return "", flags
		}
	}
}

// quotedWords splits rest at blanks outside quotes, keeping the quotes and
// escapes in the words (expansion resolves them later). Inside single
// quotes the escape character is an ordinary one.
func (p *parser) quotedWords(rest string) []string {
	var words []string
	var w strings.Builder
	inWord, keepEmpty := false, false
	var quote rune
	flush := func() {
		if keepEmpty || w.Len() > 0 {
			words = append(words, w.String())
		}
		w.Reset()
		inWord, keepEmpty = false, false
	}
	for i := 0; i < len(rest); {
		c, size := utf8.DecodeRuneInString(rest[i:])
		i += size
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			if c == p.escape && quote != '\'' && c != quote {
				if i == len(rest) {
					quote = 0
					continue
				}
				w.WriteRune(c)
				c, size = utf8.DecodeRuneInString(rest[i:])
				i += size
			}
			w.WriteRune(c)
		case unicode.IsSpace(c):
			if inWord {
				flush()
			}
		default:
			inWord = true
			if c == '\'' || c == '"' {
				quote, keepEmpty = c, true
			}
			if c == p.escape {
				if i == len(rest) {
					continue
				}
				w.WriteRune(c)
				c, size = utf8.DecodeRuneInString(rest[i:])
				i += size
			}
			w.WriteRune(c)
		}
	}
	if inWord || quote != 0 {
		flush()
	}
	return words
}

// chain links values into an argument chain.
func chain(values []string) *Node {
	var first, last *Node
	for _, v := range values {
		n := &Node{Value: v}
		if first == nil {
			first = n
		} else {
			last.Next = n
		}
		last = n
	}
	return first
}

// nameValues reads ENV and LABEL: `name=value ...`, or the old
// `name value` with everything after the name as the value. Each pair is
// three nodes: name, value, and the separator ("=" or "").
func (p *parser) nameValues(rest, instruction string) (*Node, map[string]bool, error) {
	words := p.quotedWords(rest)
	if len(words) == 0 {
		return nil, nil, nil
	}
	if !strings.Contains(words[0], "=") {
		name, value, found := cutBlanks(rest)
		if !found {
			return nil, nil, fmt.Errorf("%s must have two arguments", instruction)
		}
		return chain([]string{name, value, ""}), nil, nil
	}
	var triples []string
	for _, w := range words {
		name, value, found := strings.Cut(w, "=")
		if !found {
			return nil, nil, fmt.Errorf("Syntax error - can't find = in %q. Must be of the form: name=value", w)
		}
		triples = append(triples, name, value, "=")
	}
	return chain(triples), nil, nil
}

// nameOrNameValues reads ARG: words, each `name` or `name=value`.
func nameOrNameValues(p *parser, rest string) (*Node, map[string]bool, error) {
	return chain(p.quotedWords(rest)), nil, nil
}

// whitespaceWords splits at blanks, quotes or not.
func whitespaceWords(_ *parser, rest string) (*Node, map[string]bool, error) {
	if rest == "" {
		return nil, nil, nil
	}
	return chain(strings.FieldsFunc(rest, func(r rune) bool { return strings.ContainsRune(blanks, r) })), nil, nil
}

// wholeString is one argument: the rest of the line.
func wholeString(_ *parser, rest string) (*Node, map[string]bool, error) {
	if rest == "" {
		return nil, nil, nil
	}
	return &Node{Value: rest}, nil, nil
}

var errNotStrings = errors.New("when using JSON array syntax, arrays must be comprised of strings only")

// jsonArray reads the exec form, a JSON array of strings.
func jsonArray(rest string) (*Node, map[string]bool, error) {
	rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
	if !strings.HasPrefix(rest, "[") {
		return nil, nil, fmt.Errorf("error parsing %q as a JSON array", rest)
	}
	var items []any
	if err := json.Unmarshal([]byte(rest), &items); err != nil {
		return nil, nil, err
	}
	values := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, nil, errNotStrings
		}
		values = append(values, s)
	}
	return chain(values), map[string]bool{"json": true}, nil
}

// maybeJSON reads CMD, ENTRYPOINT, RUN and SHELL: the exec form, or the
// shell form as one argument.
func maybeJSON(_ *parser, rest string) (*Node, map[string]bool, error) {
	if rest == "" {
		return nil, nil, nil
	}
	n, attrs, err := jsonArray(rest)
	if err == nil || err == errNotStrings {
		return n, attrs, err
	}
	return &Node{Value: rest}, nil, nil
}

// maybeJSONList reads COPY, ADD and VOLUME: the exec form, or words split
// at blanks.
func maybeJSONList(p *parser, rest string) (*Node, map[string]bool, error) {
	n, attrs, err := jsonArray(rest)
	if err == nil || err == errNotStrings {
		return n, attrs, err
	}
	return whitespaceWords(p, rest)
}

// healthcheck reads HEALTHCHECK: its type (CMD, NONE) then the command in
// either form.
func healthcheck(p *parser, rest string) (*Node, map[string]bool, error) {
	var typ, cmd string
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		typ, cmd = rest[:i], strings.TrimLeftFunc(rest[i:], unicode.IsSpace)
	} else {
		typ, cmd = rest, ""
	}
	if typ == "" {
		return nil, nil, nil
	}
	next, attrs, err := maybeJSON(p, cmd)
	if err != nil {
		return nil, nil, err
	}
	return &Node{Value: typ, Next: next}, attrs, nil
}

// subInstruction reads ONBUILD's trigger as an instruction of its own.
func subInstruction(p *parser, rest string) (*Node, map[string]bool, error) {
	if rest == "" {
		return nil, nil, nil
	}
	child, err := p.instruction(rest)
	if err != nil {
		return nil, nil, err
	}
	return &Node{Children: []*Node{child}}, nil, nil
}
