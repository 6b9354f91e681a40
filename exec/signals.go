package exec

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Signals is a subscription to the signals Run forwards: SIGINT, SIGTERM,
// SIGHUP and SIGQUIT, except those this process inherited as ignored
// (nohup), which stay ignored here and in the command.
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
func Subscribe() *Signals {
	forwarded := forwardedSignals()
	s := &Signals{c: make(chan os.Signal, len(forwarded)), ready: make(chan struct{})}
	go func() {
		defer close(s.ready)
		// A signal inherited as ignored must stay ignored: Notify would
		// install a handler for it, and the command would then inherit the
		// default action instead of SIG_IGN.
		for _, sig := range forwarded {
			if !signal.Ignored(sig) {
				signal.Notify(s.c, sig)
			}
		}
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
