package logger

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLocalRoundTrip(t *testing.T) {
	f := localFormat{}
	tm := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		m    Message
		nl   bool
		want Message
	}{
		{"line", Message{Stream: "stdout", Line: []byte("hello\n"), Time: tm}, false, Message{Stream: "stdout", Line: []byte("hello\n"), Time: tm}},
		{"newline added", Message{Stream: "stderr", Line: []byte("x"), Time: tm}, true, Message{Stream: "stderr", Line: []byte("x\n"), Time: tm}},
		{"partial", Message{Stream: "stdout", Line: []byte("abc"), Partial: true, Time: tm}, false, Message{Stream: "stdout", Line: []byte("abc"), Partial: true, Time: tm}},
		{"bytes kept", Message{Stream: "stdout", Line: []byte("\x00\xff<&>\"\n"), Time: tm}, false, Message{Stream: "stdout", Line: []byte("\x00\xff<&>\"\n"), Time: tm}},
		{"attrs", Message{Stream: "custom", Line: []byte("a\n"), Time: tm, Attrs: map[string]string{"b": "2", "a": "", "": "x"}}, false, Message{Stream: "custom", Line: []byte("a\n"), Time: tm, Attrs: map[string]string{"b": "2", "a": "", "": "x"}}},
		{"empty", Message{Time: tm}, false, Message{Line: []byte{}, Time: tm}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attrs, err := f.encodeAttrs(tc.m.Attrs)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := f.appendRecord([]byte("prefix"), &tc.m, tc.nl, attrs)
			if err != nil {
				t.Fatal(err)
			}
			rec = rec[len("prefix"):]
			for i := range len(rec) {
				if n, err := f.frame(rec[:i]); n != 0 || err != nil {
					t.Fatalf("frame of %d of %d bytes = %d, %v", i, len(rec), n, err)
				}
			}
			if n, err := f.frame(append(rec, 1, 2, 3)); n != len(rec) || err != nil {
				t.Fatalf("frame = %d, %v, want %d", n, err, len(rec))
			}
			var got Message
			if err := f.decode(rec, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLocalCorrupt(t *testing.T) {
	f := localFormat{}
	rec, _ := f.appendRecord(nil, &Message{Stream: "stdout", Line: []byte("hello\n"), Time: time.Now()}, false, nil)

	bad := append([]byte(nil), rec...)
	bad[len(bad)-1]++ // trailer disagrees
	if _, err := f.frame(bad); err == nil {
		t.Error("frame accepted mismatched sizes")
	}
	if _, err := f.frame(binary.BigEndian.AppendUint32(nil, 1<<31)); err == nil {
		t.Error("frame accepted a huge size")
	}
	if _, err := f.frame([]byte{0, 0, 0, 1}); err == nil {
		t.Error("frame accepted a size below the header's")
	}
	v := append([]byte(nil), rec...)
	v[4] = 0x80 // a flag from the future
	if err := f.decode(v, new(Message)); err == nil {
		t.Error("decode accepted unknown flags")
	}
}
