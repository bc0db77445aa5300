// Package dockerfile reads a Dockerfile into instructions: parser
// directives, line continuations, heredocs, and each instruction's
// arguments split the way Docker's frontend splits them. It gives the same
// tree as BuildKit's parser (a test compares the two) without that parser's
// dependencies, which cost every gantry process 2 ms of start-up and 2 MB
// of binary: the builder is one role of a binary that is also every
// container's init and shim.
package dockerfile

// Node is an instruction (a child of the root), or one of its arguments.
//
// An instruction's Value is its name in lower case; its arguments hang off
// Next as a chain, one node per word, or (ENV, LABEL) as key, value,
// separator triples; ONBUILD's Next holds the trigger instruction in
// Children.
type Node struct {
	Value      string
	Next       *Node
	Children   []*Node
	Attributes map[string]bool // "json": the exec (JSON array) form
	Original   string          // the instruction's line, continuations joined
	Flags      []string        // "--from=build", as written
	Heredocs   []Heredoc
	StartLine  int
	EndLine    int
}

// Heredoc is a here-document an instruction reads (`RUN <<EOF`).
type Heredoc struct {
	Name           string
	FileDescriptor uint
	Expand         bool // the name was not quoted: the content is expanded
	Chomp          bool // <<-: leading tabs are not part of the lines
	Content        string
}

// Words is the list of values after an instruction.
func (n *Node) Words() []string {
	var out []string
	for x := n.Next; x != nil; x = x.Next {
		out = append(out, x.Value)
	}
	return out
}

// Result is a parsed Dockerfile.
type Result struct {
	AST         *Node // the instructions are its Children
	EscapeToken rune
	Directives  []Directive
}

// Directive is a parser directive (`# escape=`), from the file's head.
type Directive struct {
	Name  string
	Value string
	Line  int
}

// Error is a Dockerfile that cannot be read, and where.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
