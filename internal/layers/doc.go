// Package layers holds the test that keeps the imports of liveswap's
// packages pointing down the layers of docs/architecture.md.
package layers
