package dispatch

// APIKey is the API key the connection presented at $connect, kept for the routes that need one ("" when
// none is kept). A cluster stores it in the connection's record.
func (c *Connection) APIKey() string { return c.apiKey }

// SetAPIKey restores the kept API key of a connection rebuilt from its record (another node's, whose
// $disconnect this node runs).
func (c *Connection) SetAPIKey(key string) { c.apiKey = key }
