package synth

// The word lists the generator draws from. They are plain data, chosen to look
// like real records from the labor-export corridors; no list names a real
// person or company.

// surnames are the most common Chinese family names, roughly by frequency.
var surnames = []string{
	"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
	"郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
	"彭", "曾", "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏",
	"魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金",
	"石", "廖", "贾", "夏", "韦", "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹",
	"薛", "闫", "段", "雷", "侯", "龙", "史", "陶", "黎", "贺", "顾", "毛", "郝", "龚", "邵",
	"万", "钱", "严", "覃", "武", "戴", "莫", "孔", "向", "汤", "欧阳", "司马",
}

// maleGiven and femaleGiven are characters common in given names.
var (
	maleGiven = []string{
		"伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华",
		"飞", "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "洋",
		"建", "国", "志", "文", "兵", "锋", "亮", "成", "东", "海", "江", "春", "德", "福", "贵",
	}
	femaleGiven = []string{
		"芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "桂", "秀", "英", "兰", "红",
		"梅", "琴", "萍", "婷", "雪", "慧", "莉", "倩", "颖", "琳", "晶", "欢", "佳", "丹", "媛",
		"春", "月", "凤", "翠", "云", "珍", "花", "平", "美", "玉",
	}
)

// programme is a vocational training programme and the job it leads to.
type programme struct {
	name     string // training programme (培训工种)
	job      string
	industry string // GB/T 4754-2017
	hours    int    // typical length
}

var programmes = []programme{
	{"家政服务员", "家政服务员", "O8010", 120},
	{"育婴员", "育婴员", "O8010", 120},
	{"养老护理员", "养老护理员", "Q8514", 160},
	{"电工", "电工", "E4910", 240},
	{"焊工", "焊工", "C3311", 240},
	{"中式烹调师", "厨师", "H6210", 200},
	{"中式面点师", "面点师", "H6210", 160},
	{"汽车维修工", "汽车维修工", "O8111", 300},
	{"砌筑工", "砌筑工", "E4710", 80},
	{"钢筋工", "钢筋工", "E4710", 80},
	{"缝纫工", "缝纫工", "C1810", 80},
	{"电子设备装接工", "电子装配工", "C3982", 80},
	{"保安员", "保安员", "L7272", 40},
	{"快递员", "快递员", "G6020", 40},
	{"美容师", "美容师", "O8060", 200},
	{"叉车司机", "叉车司机", "G5990", 60},
}

// employerWords build employer names: trade name, line of business, form.
var (
	tradeNames = []string{
		"恒达", "华信", "鑫源", "宏图", "远航", "新世纪", "金桥", "长城", "瑞丰", "永盛",
		"东方", "天成", "嘉和", "盛世", "汇通", "安泰", "富华", "兴业", "百川", "众诚",
	}
	businesses = map[string]string{
		"O": "家庭服务", "Q": "养老服务", "E": "建筑工程", "C": "电子科技", "H": "餐饮管理",
		"L": "保安服务", "G": "物流", "default": "实业",
	}
)

// brandSuffixes make labor brands (劳务品牌) from a province's short name.
var brandSuffixes = []string{"家政", "工匠", "厨师", "月嫂", "建工", "焊工"}

// knownBrands are labor brands by origin province, in the spirit of the real ones.
var knownBrands = map[string][]string{
	"51": {"川妹子家政", "川菜师傅", "川建工匠"},
	"34": {"皖嫂家政", "徽匠"},
	"43": {"湘妹子家政", "湘菜厨师"},
	"52": {"贵州绣娘", "黔匠"},
	"41": {"豫匠", "河南月嫂"},
	"36": {"赣鄱月嫂"},
}

var (
	refusalReasons = []string{
		"未到岗：本人放弃入职",
		"试用期内离职返乡",
		"因家庭原因提前返乡",
		"用人单位未按约定录用",
	}
	caseNotes = map[string][]string{
		"wage-arrears":     {"用人单位拖欠三个月工资，劳动者已返乡，请协助联系核实。", "包工头拖欠工资，涉及同乡务工人员多名。"},
		"work-injury":      {"劳动者在工地受伤，需原籍地协助送达工伤认定文书。", "工伤待遇未落实，请协助联系劳动者家属。"},
		"contract-dispute": {"用人单位未签订书面劳动合同，劳动者申请仲裁。"},
		"illegal-agency":   {"非法职业中介收取高额中介费后失联。"},
		"other":            {"其他劳动保障权益问题，请协助核查。"},
	}
	updateNotes = map[string]string{
		"accepted":      "已受理，正在联系当事人。",
		"investigating": "劳动保障监察已立案调查。",
		"resolved":      "已追回拖欠款项，支付给劳动者。",
		"closed":        "案件办结，劳动者已确认。",
		"rejected":      "经核查不属于本地管辖，请转有管辖权的部门。",
	}
)
