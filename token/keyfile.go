package token

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// MaxKeySize is the most LoadSigner reads from a key file. A JWK is a few
// KiB (an RSA 4096 private key 3.2 KiB); anything larger is not one.
const MaxKeySize = 1 << 20

// Errors LoadSigner returns about reading the key, besides those of the
// file system (*fs.PathError).
var (
	// ErrKeyTooLarge is a key file longer than MaxKeySize.
	ErrKeyTooLarge = errors.New("is larger than 1 MiB; a JWK is a few KiB")
	// ErrKeyReadStopped is a read that was still waiting when the context
	// was done. The error also wraps context.Cause: the deadline, or the
	// cause the caller gave (a signal).
	ErrKeyReadStopped = errors.New("could not be read")
	// ErrKeyWritable is a key file that group or others may write:
	// whoever can write it can swap the key, as ssh also refuses.
	ErrKeyWritable = errors.New("is writable by group or others")
)

// LoadSigner reads a private JWK from path, which may be a symbolic link
// (Kubernetes' ..data), a FIFO or a pipe (bash's <(…)). It reads at most
// MaxKeySize+1 bytes and gives up when ctx is done, with an error that wraps
// context.Cause(ctx). Errors name the file and never contain the file's
// contents.
func LoadSigner(ctx context.Context, path string) (*Signer, error) {
	b, err := readKey(ctx, path)
	if err != nil {
		return nil, err
	}
	s, err := NewSigner(b)
	if err != nil {
		return nil, fmt.Errorf("signer key %s %w", path, err)
	}
	return s, nil
}

// readKey reads path in a goroutine, so that the caller can give up on it
// when ctx is done. Opening a FIFO blocks in open(2) until a writer opens
// it, and nothing can interrupt that but a writer or the end of the
// process; the goroutine is then abandoned. Any read that can be
// interrupted (pipes, FIFOs) is ended as soon as ctx is done, so that the
// goroutine closes the file and ends.
func readKey(ctx context.Context, path string) ([]byte, error) {
	if ctx.Err() != nil {
		return nil, keyStopped(ctx, path)
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned read does not block
	go func() {
		b, err := readKeyFile(ctx, path)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, keyStopped(ctx, path)
	}
}

// readKeyFile reads at most MaxKeySize+1 bytes of path, so that /dev/zero
// or a huge file cannot grow memory.
func readKeyFile(ctx context.Context, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		// The *PathError names the file and says why (missing, permission).
		return nil, fmt.Errorf("read signer key: %w", err)
	}
	defer f.Close()
	// The mode of the file itself, through any link (Kubernetes' ..data).
	// Readable by group or others is accepted: Kubernetes' secret volumes
	// default to 0644. Devices (/dev/stdin's terminal) are left alone.
	if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeDevice == 0 && fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("signer key %s %w (mode %04o); anyone who can write it can swap the key: chmod go-w %s", path, ErrKeyWritable, fi.Mode().Perm(), path)
	}
	// The Go runtime polls pipes and FIFOs, so a deadline ends a read that
	// waits for a writer. Regular files and devices take no deadline, but
	// their reads do not wait.
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	defer stop()
	b, err := io.ReadAll(io.LimitReader(f, MaxKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("read signer key: %w", err)
	}
	if len(b) > MaxKeySize {
		return nil, fmt.Errorf("signer key %s %w", path, ErrKeyTooLarge)
	}
	return b, nil
}

// keyStopped says that the key at path could not be read before ctx was
// done, wrapping ErrKeyReadStopped and why: the deadline, or the cause the
// caller gave (a signal).
func keyStopped(ctx context.Context, path string) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, context.DeadlineExceeded) {
		return fmt.Errorf("signer key %s %w in time: %w; is it a FIFO with no writer?", path, ErrKeyReadStopped, cause)
	}
	return fmt.Errorf("signer key %s %w: %w", path, ErrKeyReadStopped, cause)
}
