package flagvalue

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ReadKVStrings returns the `key=value` lines of files (--label-file)
// followed by override (--label), so that the flags win over the files.
// A line without "=" is dropped.
func ReadKVStrings(files, override []string) ([]string, error) {
	return readKVStrings(files, override, nil)
}

// ReadKVEnvStrings is ReadKVStrings for --env-file and -e: a line that is
// only a NAME takes its value from our environment, and is dropped when we
// have none.
func ReadKVEnvStrings(files, override []string) ([]string, error) {
	return readKVStrings(files, override, os.LookupEnv)
}

func readKVStrings(files, override []string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	for _, name := range files {
		lines, err := readKVFile(name, lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, lines...)
	}
	return append(out, override...), nil
}

// readKVFile reads one env or label file, naming it in any parse error.
func readKVFile(name string, lookup func(string) (string, bool)) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lines, err := parseKVLines(f, lookup)
	if err != nil {
		return nil, fmt.Errorf("invalid env file (%s): %v", name, err)
	}
	return lines, nil
}

// parseKVLines reads the docker env-file format: blank lines and lines
// starting with "#" are skipped, leading whitespace is dropped, the rest
// of a line (quotes, trailing spaces) is the value verbatim, and no
// variable is expanded.
func parseKVLines(r io.Reader, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Bytes()
		if !utf8.Valid(raw) {
			return nil, fmt.Errorf("invalid utf8 bytes at line %d: %v", n, raw)
		}
		if n == 1 {
			// Editors on Windows like to start a file with a byte order mark.
			raw = bytes.TrimPrefix(raw, []byte("\uFEFF"))
		}
		line := strings.TrimLeftFunc(string(raw), unicode.IsSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		key, _, hasValue := strings.Cut(line, "=")
		switch {
		case key == "":
			return nil, fmt.Errorf("no variable name on line '%s'", line)
		case strings.ContainsAny(key, blanks):
			return nil, fmt.Errorf("variable '%s' contains whitespaces", key)
		case hasValue:
			out = append(out, line)
		case lookup != nil:
			if v, ok := lookup(line); ok {
				out = append(out, key+"="+v)
			}
		}
	}
	return out, sc.Err()
}

// ConvertKVStringsToMap turns ["k=v", "k2"] into {"k": "v", "k2": ""};
// the last of repeated keys wins.
func ConvertKVStringsToMap(values []string) map[string]string {
	m := make(map[string]string, len(values))
	for _, kv := range values {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
