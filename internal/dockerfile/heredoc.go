package dockerfile

import (
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// noEnv expands nothing: a heredoc's name is read before any variable.
type noEnv struct{}

func (noEnv) Get(string) (string, bool) { return "", false }
func (noEnv) Keys() []string            { return nil }

// heredocsOf finds the here-documents a line opens (`<<EOF`, `<<-EOF`,
// `3<<"EOF"`), in order.
func heredocsOf(line string) ([]Heredoc, error) {
	lex := shell.NewLex('\\')
	lex.RawQuotes, lex.RawEscapes, lex.SkipUnsetEnv = true, true, true
	words, _ := lex.ProcessWords(line, noEnv{})
	var docs []Heredoc
	for _, w := range words {
		hd, err := heredocOf(w)
		if err != nil {
			return nil, err
		}
		if hd != nil {
			docs = append(docs, *hd)
		}
	}
	return docs, nil
}

// heredocOf reads one word as a heredoc opener: [fd]<<[-][blanks]NAME,
// nil when it is not one. A quoted name (in whole or part) means the
// content is taken as written, not expanded.
func heredocOf(word string) (*Heredoc, error) {
	i := 0
	for i < len(word) && word[i] >= '0' && word[i] <= '9' {
		i++
	}
	digits := word[:i]
	rest, ok := strings.CutPrefix(word[i:], "<<")
	if !ok {
		return nil, nil
	}
	rest, chomp := strings.CutPrefix(rest, "-")
	rest = strings.TrimLeft(rest, "\t\n\f\r ")
	if rest == "" || strings.Contains(rest, "<") {
		return nil, nil
	}
	fd, _ := strconv.ParseUint(digits, 10, 0)
	lex := shell.NewLex('\\')
	lex.SkipUnsetEnv = true
	names, err := lex.ProcessWords(rest, noEnv{})
	if err != nil {
		return nil, err
	}
	if len(names) != 1 {
		return nil, nil
	}
	lex.RawQuotes = true
	raw, err := lex.ProcessWords(rest, noEnv{})
	if err != nil {
		return nil, err
	}
	if len(raw) != 1 {
		return nil, nil
	}
	quotes := func(s string) int { return strings.Count(s, `'`) + strings.Count(s, `"`) }
	return &Heredoc{
		Name:           names[0],
		FileDescriptor: uint(fd),
		Expand:         quotes(names[0]) == quotes(raw[0]),
		Chomp:          chomp,
	}, nil
}
