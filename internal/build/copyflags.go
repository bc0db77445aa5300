package build

import (
	"path"
	"strings"

	"github.com/moby/patternmatcher"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// copyFlags are COPY --parents and COPY/ADD --exclude.
type copyFlags struct {
	parents bool
	exclude *patternmatcher.PatternMatcher
}

func (r *buildRun) copyFlagsOf(c *Command, env []string) (*copyFlags, error) {
	f := &copyFlags{}
	if v, ok := c.flag("parents"); ok {
		f.parents = v == "" || v == "true"
		if v != "" && v != "true" && v != "false" {
			return nil, parseError(c.Line, "invalid value %q for --parents: true or false expected", v)
		}
	}
	var patterns []string
	for _, p := range c.flags("exclude") {
		x, err := expandWord(r.df, p, env)
		if err != nil {
			return nil, err
		}
		if x == "" {
			return nil, parseError(c.Line, "--exclude needs a pattern")
		}
		patterns = append(patterns, strings.TrimPrefix(path.Clean("/"+x), "/"))
	}
	if len(patterns) > 0 {
		pm, err := patternmatcher.New(patterns)
		if err != nil {
			return nil, errdefs.Invalid("dockerfile line %d: invalid --exclude pattern: %v", c.Line, err)
		}
		f.exclude = pm
	}
	return f, nil
}

// kept is, with --parents, the part of the source path rel (matched from
// the source word) recreated under the destination: all of it, or what
// follows a "/./" pivot in the word ("" without --parents).
func (f *copyFlags) kept(word, rel string) string {
	if f == nil || !f.parents {
		return ""
	}
	w := strings.TrimPrefix(word, "./")
	if i := strings.Index(w, "/./"); i >= 0 {
		if prefix, err := cleanSource(w[:i]); err == nil && prefix != "." {
			return strings.TrimPrefix(strings.TrimPrefix(rel, prefix), "/")
		}
	}
	if rel == "." {
		return ""
	}
	return rel
}

// filter drops the files --exclude names. A pattern is matched, with
// .dockerignore's rules, against a file's path relative to the source
// (the file's own name for a file source) and relative to the root it
// comes from; an excluded directory takes its contents with it.
func (f *copyFlags) filter(rel string, isDir bool, files []ctxFile) []ctxFile {
	if f == nil || f.exclude == nil {
		return files
	}
	var out []ctxFile
	for _, file := range files {
		inSource := file.dst
		full := rel
		if isDir {
			if file.dst == "" {
				out = append(out, file)
				continue
			}
			full = path.Join(rel, file.dst)
		} else {
			inSource = path.Base(rel)
		}
		if m, _ := f.exclude.MatchesOrParentMatches(inSource); m {
			continue
		}
		if m, _ := f.exclude.MatchesOrParentMatches(full); m {
			continue
		}
		out = append(out, file)
	}
	return out
}
