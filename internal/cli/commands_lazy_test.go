package cli

import (
	"slices"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// tree lists a command's subcommands (names and aliases) and flags,
// recursively, as "path" lines.
func tree(c *cobra.Command, prefix string) []string {
	var out []string
	c.Flags().VisitAll(func(f *pflag.Flag) { out = append(out, prefix+" --"+f.Name) })
	for _, sub := range c.Commands() {
		p := prefix + " " + sub.Name()
		for _, a := range sub.Aliases {
			out = append(out, p+" alias "+a)
		}
		out = append(out, p)
		out = append(out, tree(sub, p)...)
	}
	slices.Sort(out)
	return out
}

// Every top-level command built on its own (what `gantry NAME ...` builds)
// is the same, subcommands and flags, as in the tree of all commands; and
// every top-level command of the full tree is known to groupsOf, so a new
// command added to a group but not to the table fails here, not for a user.
func TestLazyCommandsMatchTheFullTree(t *testing.T) {
	full := &cobra.Command{Use: "gantry"}
	for _, add := range allGroups() {
		add(full)
	}
	for _, c := range full.Commands() {
		for _, name := range append([]string{c.Name()}, c.Aliases...) {
			if groupsOf(name) == nil {
				t.Errorf("top-level command %q is not in groupsOf: `gantry %s` builds every command", name, name)
				continue
			}
			lazy := &cobra.Command{Use: "gantry"}
			addCommands(lazy, []string{"-H", "unix:///x", name, "--help"})
			got, _, err := lazy.Find([]string{name})
			if err != nil || got == lazy {
				t.Errorf("`gantry %s` does not find its command when built alone: %v", name, err)
				continue
			}
			if want, have := tree(c, c.Name()), tree(got, got.Name()); !slices.Equal(want, have) {
				t.Errorf("`gantry %s` built alone differs from the full tree:\nfull: %q\nalone: %q", name, want, have)
			}
		}
	}
}

func TestCommandName(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"ps", "-a"}, "ps"},
		{[]string{"-H", "unix:///s", "images"}, "images"},
		{[]string{"--host=unix:///s", "pull", "x"}, "pull"},
		{[]string{"-Hunix:///s", "run"}, "run"},
		{[]string{"--context", "c1", "network", "ls"}, "network"},
		{[]string{"--version"}, ""},
		{[]string{"--bogus", "ps"}, ""},
	} {
		if got := commandName(tc.args); got != tc.want {
			t.Errorf("commandName(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
