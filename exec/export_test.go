package exec

// WaitReady waits until the subscription is in place, so that a test may
// send a signal without killing the process.
func (s *Signals) WaitReady() { <-s.ready }
