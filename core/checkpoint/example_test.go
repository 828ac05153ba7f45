package checkpoint_test

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/stigaudit/stigaudit/core/checkpoint"
)

func Example() {
	// A server makes its key once, from the host's entropy (a fixed
	// stream here, so the output is stable).
	skey, vkey, err := checkpoint.GenerateKey(strings.NewReader(strings.Repeat("seed", 8)), checkpoint.DefaultOrigin("node-1"))
	if err != nil {
		panic(err)
	}
	signer, _ := checkpoint.NewSigner(skey)
	msg, err := checkpoint.Sign(checkpoint.Checkpoint{
		Origin: "stigaudit/node-1",
		Size:   3,
		Root:   sha256.Sum256([]byte("the root of 3 events")),
	}, signer)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(msg))

	// Anyone with the public verifier key can open it.
	verifier, _ := checkpoint.NewVerifier(vkey)
	c, err := checkpoint.Open(msg, "", verifier)
	fmt.Println(c.Origin, c.Size, err)

	// Output:
	// stigaudit/node-1
	// 3
	// Gwv4tpIyke5J52VMJ45dVyJ0Vf9K8UoC/Kgg2TmXAMc=
	//
	// — stigaudit/node-1 j8OuJsv17pMl+ejyiQrnx55CkR5JlyYLEfitRDmsaPinicnOP4NxhdB37JGXcsuf/brk6REkT51Gn4bT5ky6iT9ukwI=
	// stigaudit/node-1 3 <nil>
}
