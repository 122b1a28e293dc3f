// Package layers holds the test that enforces the import rules of docs/architecture.md: leaves import
// nothing internal, lower layers never import higher ones, the control plane and the data plane meet only
// at snapshot, and only the composition root knows concrete implementations.
package layers
