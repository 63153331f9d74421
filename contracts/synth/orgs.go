package synth

import (
	"strings"

	"github.com/laborlink/laborlink/contracts"
)

const creditAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditCode builds a GB 32100 code registered in division by the kind of
// authority prefix gives ("91" enterprise, "12" public institution, "52"
// private non-enterprise unit, "54" grass-roots organization).
func (g *Generator) creditCode(prefix, division string) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(division)
	for range 9 {
		b.WriteByte(creditAlphabet[g.rng.IntN(len(creditAlphabet))])
	}
	first17 := b.String()
	return first17 + string(contracts.CreditCodeCheckChar(first17))
}

// employer is a company in the destination province.
type employer struct {
	name, creditCode string
	division         contracts.Division
}

func (g *Generator) employer(industry string) employer {
	d := g.county(g.dest)
	business, ok := businesses[industry[:1]]
	if !ok {
		business = businesses["default"]
	}
	return employer{
		name:       placeName(d) + g.pick(tradeNames) + business + "有限公司",
		creditCode: g.creditCode("91", d.Code),
		division:   d,
	}
}

var organizerKinds = []contracts.OrganizerKind{
	contracts.OrganizerPublicEmploymentService,
	contracts.OrganizerLaborCompany,
	contracts.OrganizerAgency,
	contracts.OrganizerTrainingInstitution,
	contracts.OrganizerVillageOrganization,
	contracts.OrganizerBroker,
	contracts.OrganizerSelf,
}

// organizer makes an organizer of any kind based in the worker's home county.
func (g *Generator) organizer(home contracts.Division) contracts.Organizer {
	kind := organizerKinds[g.rng.IntN(len(organizerKinds))]
	place := placeName(home)
	o := contracts.Organizer{Kind: kind}
	switch kind {
	case contracts.OrganizerPublicEmploymentService:
		o.Name, o.CreditCode = place+"公共就业服务中心", g.creditCode("12", home.Code)
	case contracts.OrganizerLaborCompany:
		o.Name, o.CreditCode = place+g.pick(tradeNames)+"劳务有限公司", g.creditCode("91", home.Code)
	case contracts.OrganizerAgency:
		o.Name, o.CreditCode = place+g.pick(tradeNames)+"人力资源服务有限公司", g.creditCode("91", home.Code)
	case contracts.OrganizerTrainingInstitution:
		o.Name, o.CreditCode = place+g.pick(tradeNames)+"职业技能培训学校", g.creditCode("52", home.Code)
	case contracts.OrganizerVillageOrganization:
		o.Name = place + g.pick(tradeNames) + "村民委员会"
		if g.chance(0.7) {
			o.CreditCode = g.creditCode("54", home.Code)
		}
	case contracts.OrganizerBroker:
		o.Name = g.pick(surnames) + g.pick(maleGiven) + "（农村劳务经纪人）"
	}
	return o
}

func (g *Generator) laborBrand() string {
	if brands := knownBrands[g.cfg.Origin]; len(brands) > 0 && g.chance(0.7) {
		return g.pick(brands)
	}
	return provinceShort(g.cfg.Origin) + g.pick(brandSuffixes)
}
