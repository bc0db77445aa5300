package cli

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseDetachKeys(t *testing.T) {
	for _, tt := range []struct {
		keys string
		want []byte
	}{
		{"", []byte{16, 17}},
		{"ctrl-p,ctrl-q", []byte{16, 17}},
		{"ctrl-a", []byte{1}},
		{"CTRL-Z", []byte{26}},
		{"ctrl-@", []byte{0}},
		{"ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", []byte{27, 28, 29, 30, 31}},
		{"a,b,ctrl-c", []byte{'a', 'b', 3}},
	} {
		got, err := parseDetachKeys(tt.keys)
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("parseDetachKeys(%q) = %v, %v; want %v", tt.keys, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ keys, want string }{
		{"foo", "invalid detach keys (foo): Unknown character: 'foo'"},
		{"ctrl-p,ctrl-1", "invalid detach keys (ctrl-p,ctrl-1): Unknown character: 'ctrl-1'"},
		{"ctrl-", "invalid detach keys (ctrl-): Unknown character: 'ctrl-'"},
		{"a,", "invalid detach keys (a,): Unknown character: ''"},
	} {
		if _, err := parseDetachKeys(tt.keys); err == nil || err.Error() != tt.want {
			t.Errorf("parseDetachKeys(%q) error = %v, want %q", tt.keys, err, tt.want)
		}
	}
}

// readAllProxy reads everything the proxy passes and the error it ends
// with.
func readAllProxy(in io.Reader, keys []byte) (string, error) {
	var out bytes.Buffer
	_, err := io.Copy(&out, newEscapeProxy(in, keys))
	return out.String(), err
}

func TestEscapeProxy(t *testing.T) {
	keys := []byte{16, 17}
	for _, tt := range []struct {
		name, in, want string
		detached       bool
	}{
		{"plain", "hello", "hello", false},
		{"detach", "ab\x10\x11cd", "ab", true},
		{"detach at start", "\x10\x11", "", true},
		{"broken sequence goes through", "a\x10b", "a\x10b", false},
		{"first key twice", "\x10\x10\x11rest", "\x10", true},
		{"held key at end of input", "abc\x10", "abc\x10", false},
	} {
		for _, oneByte := range []bool{false, true} {
			var in io.Reader = strings.NewReader(tt.in)
			if oneByte {
				in = iotest.OneByteReader(in)
			}
			got, err := readAllProxy(in, keys)
			if got != tt.want || errors.Is(err, errDetached) != tt.detached {
				t.Errorf("%s (one byte %v): got %q, %v; want %q, detached %v", tt.name, oneByte, got, err, tt.want, tt.detached)
			}
		}
	}
	got, err := readAllProxy(strings.NewReader("xyz"), []byte{'y'})
	if got != "x" || !errors.Is(err, errDetached) {
		t.Errorf("one-key sequence: %q, %v", got, err)
	}
	if errDetached.Error() != "read escape sequence" {
		t.Errorf("detach error text %q", errDetached)
	}
}

func TestCheckTTY(t *testing.T) {
	if err := checkTTY(strings.NewReader(""), true, true); err == nil || err.Error() != "the input device is not a TTY" {
		t.Errorf("-it without a terminal: %v", err)
	}
	if err := checkTTY(strings.NewReader(""), false, true); err != nil {
		t.Errorf("-t without -i: %v", err)
	}
	if err := checkTTY(strings.NewReader(""), true, false); err != nil {
		t.Errorf("-i without -t: %v", err)
	}
}
