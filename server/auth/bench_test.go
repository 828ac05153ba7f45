package auth

import (
	"context"
	"testing"
)

// BenchmarkVerify compares a cached verification with one that pays for
// argon2id at DefaultParams.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name   string
		cached bool
	}{{"cached", true}, {"argon2id", false}} {
		b.Run(bc.name, func(b *testing.B) {
			k := New(table(openDB(b)), Options{})
			text, _, err := k.Create(ctx, Spec{EntityURI: "urn:a", Perms: PermRead})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if !bc.cached {
					k.cache = map[[32]byte]*cached{}
				}
				if _, err := k.Verify(ctx, text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
