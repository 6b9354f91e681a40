package exec

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Signals is a subscription to the signals Run forwards: SIGINT, SIGTERM,
// SIGHUP and SIGQUIT, except SIGHUP and SIGINT if this process inherited
// them as ignored, which stay ignored here and in the command. SIGTERM and
// SIGQUIT inherited as ignored cannot be told apart, so they are caught
// too (see the package doc).
//
// Run subscribes for its own duration when Command.Signals is nil. Setting
// up delivery costs the Go runtime a few switches between threads for each
// signal, so a program that runs one command and exits can Subscribe
// early, before work that waits (a network request), let the set-up happen
// meanwhile, and never Stop. Until Run takes over, Watch turns a signal
// into the cancellation of that earlier work, and Run then refuses to start
// the command.
type Signals struct {
	c     chan os.Signal
	ready chan struct{} // closed once the subscription is in place

	mu       sync.Mutex
	received syscall.Signal // the first signal a Watch took, or 0
}

// Subscribe starts subscribing and returns at once. Until the subscription
// is in place a signal has its usual effect; Run waits for it before
// starting the command.
//
// The subscription also catches SIGPIPE (CatchSIGPIPE), last, so that once
// it is in place no write to a broken stdout or stderr can kill this
// process, even one that does not go through NoSIGPIPE. Its round trip to
// the runtime's signal thread happens in the background, while the caller
// does other work (bench/README.md has the cost).
func Subscribe() *Signals {
	forwarded := forwardedSignals()
	s := &Signals{c: make(chan os.Signal, len(forwarded)), ready: make(chan struct{})}
	go func() {
		defer close(s.ready)
		// A signal inherited as ignored must stay ignored: Notify would
		// install a handler for it, and the command would then inherit the
		// default action instead of SIG_IGN. signal.Ignored knows only
		// of SIGHUP and SIGINT: by the time it can be called, the runtime
		// has replaced an inherited SIG_IGN for the others.
		for _, sig := range forwarded {
			if !signal.Ignored(sig) {
				signal.Notify(s.c, sig)
			}
		}
		CatchSIGPIPE()
	}()
	return s
}

// Stop ends the subscription; the signals have their usual effect again.
func (s *Signals) Stop() {
	<-s.ready
	signal.Stop(s.c)
}

// Watch returns a copy of ctx that is cancelled, with a *SignalError as its
// cause, when a signal arrives before stop is called. It is for the work
// before Run: call stop first, and Run reports the same signal instead of
// starting the command. Calling stop more than once is harmless.
func (s *Signals) Watch(ctx context.Context) (watched context.Context, stop func()) {
	watched, cancel := context.WithCancelCause(ctx)
	quit, done := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		defer close(done)
		select {
		case got := <-s.c:
			sig, _ := got.(syscall.Signal)
			s.mu.Lock()
			if s.received == 0 {
				s.received = sig
			}
			s.mu.Unlock()
			cancel(&SignalError{Signal: sig})
		case <-quit:
		}
	}()
	return watched, func() {
		once.Do(func() { close(quit) })
		<-done
		cancel(nil)
	}
}

// pending waits for the subscription and returns the signal that arrived
// before Run, or 0.
func (s *Signals) pending() syscall.Signal {
	<-s.ready
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.received != 0 {
		return s.received
	}
	select {
	case got := <-s.c:
		sig, _ := got.(syscall.Signal)
		return sig
	default:
		return 0
	}
}

// SignalError says a forwarded signal arrived before the command started,
// so it was not started.
type SignalError struct {
	Name   string         // the command, Args[0], or "" when Watch reports it
	Signal syscall.Signal // the signal
}

// ExitStatus returns 128+N for signal N, what a shell reports for a process
// the signal killed, as it would have killed a program that did not catch it.
func (e *SignalError) ExitStatus() int { return statusSignalBase + int(e.Signal) }

// Error names the signal.
func (e *SignalError) Error() string {
	name := e.Name
	if name == "" {
		name = "the command"
	}
	return fmt.Sprintf("stopped by signal %d (%v) before %s started", int(e.Signal), e.Signal, name)
}

// forwardedSignals are the signals Run passes on to the command's process
// group: the ones an operator (Ctrl-C, Ctrl-\), cron, a terminal hang-up or a
// supervisor sends to ask a program to stop. The list is explicit, as in tini
// and consul-template: SIGCHLD is ours, and the Go runtime uses SIGURG for
// goroutine preemption, so signal.Notify without a list would forward both.
func forwardedSignals() []os.Signal {
	return []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}
}

// catchingSIGPIPE is done once SIGPIPE is caught; the signal's disposition
// is the process's, so this is too.
var catchingSIGPIPE sync.Once

// CatchSIGPIPE makes a write to a broken pipe or socket on this process's
// stdout or stderr fail with EPIPE instead of killing the process: the Go
// runtime raises SIGPIPE for such a write unless the program is notified
// of SIGPIPE (see os/signal). It catches the signal and drops it rather
// than ignoring it, because a command would inherit the ignore, while a
// handler reverts to the default action on exec: the commands Run starts
// still die by SIGPIPE when they write to a broken pipe.
//
// The first call costs a round trip to the runtime's signal thread
// (measured in bench/README.md), so a program that writes nothing on its
// usual path should not call it up front: NoSIGPIPE calls it before the
// first write instead. Later calls return at once.
func CatchSIGPIPE() {
	catchingSIGPIPE.Do(func() {
		// Nobody reads the channel: a signal that finds it full is
		// dropped, which is all this is for.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	})
}

// NoSIGPIPE returns a writer to f for this process's own output (messages,
// logs, -print) that calls CatchSIGPIPE before each write, so that if f is
// a broken pipe the write fails with EPIPE and the process lives on with
// its status. Only the first write pays for CatchSIGPIPE. Give a command f
// itself, not this writer.
func NoSIGPIPE(f *os.File) io.Writer { return noSIGPIPE{f} }

// noSIGPIPE is the writer NoSIGPIPE returns.
type noSIGPIPE struct{ f *os.File }

// Write catches SIGPIPE, then writes p to the file.
func (w noSIGPIPE) Write(p []byte) (int, error) {
	CatchSIGPIPE()
	return w.f.Write(p)
}
