package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"sync"

	"github.com/moby/moby/api/types/jsonstream"
)

// bodyReader is a response body that ctx ending closes.
type bodyReader struct {
	rc    io.ReadCloser
	close func() error
	stop  func() bool
}

func newBodyReader(ctx context.Context, rc io.ReadCloser) *bodyReader {
	b := &bodyReader{rc: rc, close: sync.OnceValue(rc.Close)}
	b.stop = context.AfterFunc(ctx, func() { _ = b.close() })
	return b
}

func (b *bodyReader) Read(p []byte) (int, error) { return b.rc.Read(p) }

func (b *bodyReader) Close() error {
	b.stop()
	return b.close()
}

// MessageStream is a progress stream of JSON messages (pull, push).
type MessageStream struct {
	rc    io.ReadCloser
	close func() error
}

func newMessageStream(rc io.ReadCloser) *MessageStream {
	return &MessageStream{rc: rc, close: sync.OnceValue(rc.Close)}
}

func (s *MessageStream) Read(p []byte) (int, error) { return s.rc.Read(p) }

// Close closes the stream; closing it again does nothing.
func (s *MessageStream) Close() error { return s.close() }

// JSONMessages decodes the messages until the stream ends; ctx ending
// closes the stream, and the error is then ctx's.
func (s *MessageStream) JSONMessages(ctx context.Context) iter.Seq2[jsonstream.Message, error] {
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	return func(yield func(jsonstream.Message, error) bool) {
		defer func() {
			stop()
			_ = s.Close()
		}()
		dec := json.NewDecoder(s)
		for {
			var m jsonstream.Message
			if err := dec.Decode(&m); err != nil {
				if errors.Is(err, io.EOF) {
					return
				}
				if cerr := ctx.Err(); cerr != nil {
					err = cerr
				}
				yield(jsonstream.Message{}, err)
				return
			}
			if !yield(m, nil) {
				return
			}
		}
	}
}
