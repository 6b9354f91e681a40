package exec

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// tailReadSize is how much one read of the output pipe takes: large, so
// that a command writing gigabytes costs few system calls and switches. The
// first reads take at most tailFirstReadSize, so that a command writing a
// few lines costs no large buffer.
const (
	tailReadSize      = 256 << 10
	tailFirstReadSize = 16 << 10
)

// tail keeps the last bytes written to a pipe, for a command whose output
// would otherwise go to /dev/null. Memory is bounded whatever the command
// writes: the ring and one read buffer.
type tail struct {
	r    *os.File
	ring []byte
	n    int64         // bytes kept so far, of which the last len(ring) are in ring
	done chan struct{} // closed when read returns
}

// startTail makes a pipe and starts reading it, keeping the last size bytes;
// the command gets w, which the caller closes once the command has started.
func startTail(size int) (w *os.File, t *tail, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	growPipe(w)
	t = &tail{r: r, ring: make([]byte, size), done: make(chan struct{})}
	go t.read()
	return w, t, nil
}

// read copies the pipe into the ring until EOF, an error, or stop's
// deadline, after which it takes what the pipe still holds.
func (t *tail) read() {
	defer close(t.done)
	buf := make([]byte, tailFirstReadSize)
	for {
		n, err := t.r.Read(buf)
		t.keep(buf[:n])
		if n == len(buf) && n < tailReadSize {
			buf = make([]byte, tailReadSize) // a lot to read
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.drain(buf)
		}
		if err != nil {
			return
		}
	}
}

// drain takes what the pipe holds now without waiting for more: at most
// maxPipeSize bytes, so that a process outside the group that keeps writing
// cannot keep it going.
func (t *tail) drain(buf []byte) {
	if t.r.SetReadDeadline(time.Time{}) != nil {
		return
	}
	rc, err := t.r.SyscallConn()
	if err != nil {
		return
	}
	// The function returns true, so RawRead never waits for the pipe to
	// become readable: the file is non-blocking, and EAGAIN ends it.
	_ = rc.Read(func(fd uintptr) bool {
		for taken := 0; taken < maxPipeSize; {
			n, err := syscall.Read(int(fd), buf)
			if err == syscall.EINTR {
				continue
			}
			if n <= 0 || err != nil {
				break
			}
			t.keep(buf[:n])
			taken += n
		}
		return true
	})
}

// keep appends p to the ring, dropping the oldest bytes.
func (t *tail) keep(p []byte) {
	size := len(t.ring)
	if len(p) > size {
		t.n += int64(len(p) - size)
		p = p[len(p)-size:]
	}
	at := int(t.n % int64(size))
	copied := copy(t.ring[at:], p)
	copy(t.ring, p[copied:])
	t.n += int64(len(p))
}

// stop ends the reading once the command and its group are gone: a
// process outside the group (a daemon) may hold the pipe open forever, so
// it takes what the pipe holds instead of waiting for EOF. It returns the
// kept bytes, oldest first; nil for a nil tail.
func (t *tail) stop() []byte {
	if t == nil {
		return nil
	}
	if t.r.SetReadDeadline(time.Unix(1, 0)) != nil { // in the past: Read returns at once
		t.r.Close() // not pollable (never so for a pipe here): end the read
	}
	<-t.done
	t.r.Close()
	size := int64(len(t.ring))
	if t.n <= size {
		return append([]byte{}, t.ring[:t.n]...) // not nil: Tail was on
	}
	at := int(t.n % size)
	return append(append([]byte(nil), t.ring[at:]...), t.ring[:at]...)
}
