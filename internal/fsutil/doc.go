// Package fsutil holds the toolkit's file-system helpers.
package fsutil
