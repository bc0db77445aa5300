package dockerfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	bk "github.com/moby/buildkit/frontend/dockerfile/parser"
)

// The Dockerfiles the comparison with BuildKit's parser reads: every form
// of every instruction, and the line-level rules (continuations, comments,
// directives, heredocs) with their corner cases.
var corpus = []string{
	"FROM busybox\nRUN echo hi\n",
	"from busybox AS build\nrun [\"echo\", \"a b\"]\nCMD echo $HOME\nENTRYPOINT [\"/bin/sh\", \"-c\"]\n",
	"FROM a\nRUN echo a \\\n  b \\\n\n  # comment\n  c\n",
	"FROM a\nRUN echo a \\   \t\nb\n",
	"FROM a\nRUN echo a \\\\\nRUN b\n",
	"FROM a\nRUN \\\n",
	"\xEF\xBB\xBFFROM a\n",
	"# escape=`\nFROM a\nRUN echo a `\n b\nCOPY c:\\dir d\n",
	"# syntax=docker/dockerfile:1\n# escape=\\\n\n# a comment\nFROM a\n",
	"#escape = `\nFROM a\n",
	"# unknown=x\n# escape=`\nFROM a\nRUN a `\nb\n",
	"   # escape=`\nFROM a\n",
	"FROM a\r\nRUN echo a\r\nENV x=1\r\n",
	"FROM --platform=$BUILDPLATFORM golang:1 AS b\n",
	"FROM a\nCOPY --from=b --chown=1:1 --chmod=755 /x /y\n",
	"FROM a\nCOPY --from=\"b c\" '--chown=a b' x y\n",
	"FROM a\nCOPY --link -- --weird y\n",
	"FROM a\nCOPY --exclude=*.md --parents a/ b/ /dst/\n",
	"FROM a\nCOPY [\"a b\", \"c\"]\nADD [\"x\", 1]\n",
	"FROM a\nCOPY [\"a\" /b\n",
	"FROM a\nVOLUME /a /b\nVOLUME [\"/c\"]\n",
	"FROM a\nENV a=1 b=\"two words\" c='x y' d=e\\ f\nENV legacy value with spaces\n",
	"FROM a\nENV a\n",
	"FROM a\nENV a=1 b\n",
	"FROM a\nENV\n",
	"FROM a\nLABEL a=b \"c d\"=\"e f\"\nLABEL version 1.0 beta\n",
	"FROM a\nLABEL a=\"multi \\\n line\"\n",
	"FROM a\nARG a\nARG b=2 c=\"3 4\"\n",
	"ARG V=1\nFROM a:$V\n",
	"FROM a\nEXPOSE 80 443/tcp   53/udp\n",
	"FROM a\nWORKDIR /a b\nUSER 1:1\nSTOPSIGNAL SIGKILL\nMAINTAINER me <me@x>\n",
	"FROM a\nSHELL [\"/bin/bash\", \"-c\"]\nSHELL bash\n",
	"FROM a\nHEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/ || exit 1\nHEALTHCHECK NONE\nHEALTHCHECK CMD [\"a\", \"b\"]\n",
	"FROM a\nONBUILD RUN echo hi\nONBUILD COPY --from=x a b\nONBUILD ONBUILD RUN x\n",
	"FROM a\nRUN [\"a\", 1]\n",
	"FROM a\nRUN [not json\nCMD [\"a\"] trailing\n",
	"FROM a\nRUN <<EOF\necho one\necho two\nEOF\n",
	"FROM a\nRUN <<-EOF\n\techo tabbed\n\tEOF\n",
	"FROM a\nRUN <<\"EOF\"\necho $HOME\nEOF\n",
	"FROM a\nRUN 3<<'E O'\nx\nE O\n",
	"FROM a\nCOPY <<A <<B /dst/\na\nA\nb\nB\n",
	"FROM a\nRUN python3 <<EOF > /out\nprint(1)\nEOF\nRUN echo after\n",
	"FROM a\nRUN cat <<EOF\nnever ends\n",
	"FROM a\nRUN [\"cat\", \"<<EOF\"]\nRUN echo a<<b\nb\n",
	"FROM a\nONBUILD RUN <<EOF\nx\nEOF\n",
	"FROM a\nRUN echo 'a<<b'\n",
	"FROM a\nUNKNOWN stuff here\n",
	"FROM a\n   RUN    spaced    out   \n\t\tCMD x\n",
	"FROM a\nRUN echo \"unterminated\n",
	"FROM a\nRUN echo ünïcödé \\\n  – dash\n",
	"FROM a\nCOPY --chmod=\"7\\\"55\" a b\n",
	"FROM a\nADD --checksum=sha256:abc https://x/y /z\n",
	"",
	"# only a comment\n\n",
	"\n\n  \nFROM a",
	"FROM a\nRUN a \\\n# c\n",
	"# escape=x\nFROM a\n",
	"# escape=\\\n# escape=`\nFROM a\n",
	"FROM a\nENV a=\"b\\\"c\" d='e\\f'\n",
	"FROM a\nARG \"quoted name\"=x\n",
	"FROM a\nENV a=b\\\n",
	"FROM a\nCMD []\nRUN [\"a\"]  \t\nHEALTHCHECK\nONBUILD\nLABEL\nENV a= b=\n",
	"FROM\nCOPY --from=x\nCOPY --from=x --\nCOPY --a\\ b=c d e\n",
	"FROM a\nRUN <<- EOF\n\tx\n\tEOF\nRUN <<EOF1 cat && <<EOF2 cat\n1\nEOF1\n2\nEOF2\n",
	"# escape=`\nFROM a\nRUN echo \\\nENV a=b` c\nRUN x ``\nRUN y\n",
	"FROM a\nENV\ta=1\tb=2\nLABEL a\tb c\n",
	"FROM a\nRUN echo hi # not a comment\n  # indented comment\nRUN x\n",
	"FROM a\nEXPOSE\t80\v81\f82\n",
}

func TestParseMatchesBuildKit(t *testing.T) {
	files := append([]string{}, corpus...)
	for _, glob := range []string{"../../examples/*/Dockerfile", "../../examples/*/*/Dockerfile"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, string(data))
		}
	}
	// Dockerfiles written inline in the other packages' tests.
	raw := regexp.MustCompile("(?s)`((?:ARG|FROM) [^`]*)`")
	quoted := regexp.MustCompile(`"(?:ARG|FROM) (?:[^"\\]|\\.)*"`)
	tests, _ := filepath.Glob("../*/*_test.go")
	for _, p := range tests {
		data, _ := os.ReadFile(p)
		for _, m := range raw.FindAllSubmatch(data, -1) {
			files = append(files, string(m[1]))
		}
		for _, m := range quoted.FindAll(data, -1) {
			if s, err := strconv.Unquote(string(m)); err == nil {
				files = append(files, s)
			}
		}
	}
	if len(files) < len(corpus)+40 {
		t.Fatalf("only %d Dockerfiles found to compare", len(files))
	}
	for i, f := range files {
		want, wantErr := bk.Parse(strings.NewReader(f))
		got, gotErr := Parse([]byte(f))
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("#%d %q: error %v, BuildKit's %v", i, f, gotErr, wantErr)
			continue
		}
		if wantErr != nil {
			continue
		}
		if w, g := dump(fromBK(want.AST)), dump(got.AST); w != g {
			t.Errorf("#%d %q:\n got %s\nwant %s", i, f, g, w)
		}
		if want.EscapeToken != got.EscapeToken {
			t.Errorf("#%d: escape %q, BuildKit's %q", i, got.EscapeToken, want.EscapeToken)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, msg string }{
		{"FROM a\nENV a\n", "ENV must have two arguments"},
		{"FROM a\nRUN [\"a\", 1]\n", "when using JSON array syntax, arrays must be comprised of strings only"},
		{"FROM a\n\nRUN cat <<EOF\nx\n", "unterminated heredoc"},
		{"# escape=x\nFROM a\n", "invalid escape token 'x' does not match ` or \\"},
		{"", "file with no instructions"},
		{"FROM a\nRUN " + strings.Repeat("x", 70000) + "\n", "dockerfile line greater than max allowed size of 65535"},
	} {
		_, err := Parse([]byte(c.in))
		if err == nil || err.Error() != c.msg {
			t.Errorf("%.40q: error %v, want %q", c.in, err, c.msg)
		}
	}
	_, err := Parse([]byte("FROM a\n\nRUN cat <<EOF\nx\n"))
	if e, ok := err.(*Error); !ok || e.Line != 3 {
		t.Errorf("unterminated heredoc: %#v, want line 3", err)
	}
}

func TestParseDirectives(t *testing.T) {
	res, err := Parse([]byte("# syntax=docker/dockerfile:1.7\n#escape=`\nFROM a\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Directive{{Name: "syntax", Value: "docker/dockerfile:1.7", Line: 1}, {Name: "escape", Value: "`", Line: 2}}
	if fmt.Sprint(res.Directives) != fmt.Sprint(want) || res.EscapeToken != '`' {
		t.Errorf("directives %v escape %q, want %v and `", res.Directives, res.EscapeToken, want)
	}
}

// dump writes a tree, one line.
func dump(n *Node) string {
	if n == nil {
		return "nil"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "{%q %q %q %v %d-%d", n.Value, n.Original, n.Flags, attrs(n.Attributes), n.StartLine, n.EndLine)
	for _, h := range n.Heredocs {
		fmt.Fprintf(&b, " <<%q fd%d exp=%v chomp=%v %q", h.Name, h.FileDescriptor, h.Expand, h.Chomp, h.Content)
	}
	for _, c := range n.Children {
		b.WriteString(" child:" + dump(c))
	}
	b.WriteString(" next:" + dump(n.Next) + "}")
	return b.String()
}

// fromBK converts BuildKit's tree to ours, to be dumped the same way.
func fromBK(n *bk.Node) *Node {
	if n == nil {
		return nil
	}
	out := &Node{Value: n.Value, Next: fromBK(n.Next), Attributes: n.Attributes, Original: n.Original,
		Flags: n.Flags, StartLine: n.StartLine, EndLine: n.EndLine}
	for _, h := range n.Heredocs {
		out.Heredocs = append(out.Heredocs, Heredoc{Name: h.Name, FileDescriptor: h.FileDescriptor, Expand: h.Expand, Chomp: h.Chomp, Content: h.Content})
	}
	for _, c := range n.Children {
		out.Children = append(out.Children, fromBK(c))
	}
	return out
}

func attrs(m map[string]bool) string {
	if len(m) == 0 {
		return "-"
	}
	return "json=" + strconv.FormatBool(m["json"])
}
