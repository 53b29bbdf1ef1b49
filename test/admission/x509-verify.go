// Verifies a server certificate the way the Kubernetes API server's webhook client does (Go crypto/x509):
// go run x509-verify.go CA.pem LEAF.pem DNS-NAME; prints ok, or the reason and exits 1.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

func main() {
	caPEM, _ := os.ReadFile(os.Args[1])
	leafPEM, _ := os.ReadFile(os.Args[2])
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		fmt.Println("bad CA")
		os.Exit(2)
	}
	b, _ := pem.Decode(leafPEM)
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		fmt.Println("parse:", err)
		os.Exit(2)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: os.Args[3], KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		fmt.Println("verify:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}
