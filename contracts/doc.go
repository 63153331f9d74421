// Package contracts defines the records that cross a provincial border in
// LaborLink: worker transfers, employment confirmations, cooperation
// agreements, rights-case referrals and their updates, and the signed
// envelopes and receipts that carry them between gateway nodes.
//
// It owns decoding, validation and the canonical encoding that both ends of a
// border hash and sign. It performs no I/O and imports nothing else of
// LaborLink's: every other package speaks these types.
//
// Codes follow the national standards the records carry: GB/T 2260
// administrative divisions, GB 11643 resident ID numbers, GB 32100 unified
// social credit codes and GB/T 4754 industry codes. Money is an integer number
// of fen (0.01 yuan), so amounts never suffer binary rounding.
package contracts
