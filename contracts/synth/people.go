package synth

import (
	"fmt"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// person is a generated worker's identity.
type person struct {
	name, idNumber, phone string
	sex                   contracts.Sex
	birth                 contracts.Date
	home                  contracts.Division
}

// person makes a worker from the origin aged 18 to 55 on the generator's today,
// with an ID number registered in a real county of the origin province.
func (g *Generator) person() person {
	p := person{home: g.county(g.origin), sex: contracts.SexMale}
	given := maleGiven
	if g.chance(0.45) {
		p.sex, given = contracts.SexFemale, femaleGiven
	}
	p.name = g.pick(surnames) + g.pick(given)
	if g.chance(0.6) {
		p.name += g.pick(given)
	}
	today := g.cfg.Today
	p.birth = contracts.DateOf(time.Date(today.Year-g.between(18, 54), time.Month(g.between(1, 12)), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, g.between(0, 27)))
	p.idNumber = g.idNumber(p.home.Code, p.birth, p.sex)
	p.phone = fmt.Sprintf("1%d%09d", g.between(3, 9), g.rng.IntN(1_000_000_000))
	return p
}

// idNumber builds a GB 11643 number: address, birth date, a sequence whose
// last digit's parity encodes the sex, and the check character.
func (g *Generator) idNumber(address string, birth contracts.Date, sex contracts.Sex) string {
	seq := g.rng.IntN(500) * 2 // even: female
	if sex == contracts.SexMale {
		seq++
	}
	first17 := fmt.Sprintf("%s%04d%02d%02d%03d", address, birth.Year, birth.Month, birth.Day, seq)
	return first17 + string(contracts.IDNumberCheckChar(first17))
}
