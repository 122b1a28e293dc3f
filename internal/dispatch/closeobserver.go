package dispatch

// CloseObserver is an Observer that is also told how each connection closed — the close code and reason
// that a $disconnect event carries as disconnectStatusCode and disconnectReason — whether or not the
// stage has a $disconnect route (without one there is no Outcome to report). The development console
// shows it. It is called on the closing connection's goroutine, before the $disconnect integration
// runs, and must not block.
type CloseObserver interface {
	ConnectionClosed(c *Connection, code int, reason string)
}

// observeClose tells the observer how c closed, when it wants to know.
func (d *Dispatcher) observeClose(c *Connection, code int, reason string) {
	if co, ok := d.obs.(CloseObserver); ok {
		co.ConnectionClosed(c, code, reason)
	}
}
