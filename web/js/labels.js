// Chinese labels of the API's enumerations and error codes.

// The symptom list of docs/openapi.yaml (components.schemas.Symptom), in its order.
export const SYMPTOMS = [
  ['fever', '发热'],
  ['cough', '咳嗽'],
  ['fatigue', '乏力'],
  ['sore-throat', '咽痛'],
  ['shortness-of-breath', '呼吸困难、气促'],
  ['diarrhea', '腹泻'],
  ['loss-of-taste-or-smell', '嗅觉、味觉减退或丧失'],
  ['nasal-congestion', '鼻塞'],
  ['runny-nose', '流涕'],
  ['muscle-ache', '肌痛'],
  ['conjunctivitis', '结膜炎'],
];

export const CATEGORIES = [
  ['residential', '居民小区'],
  ['workplace', '工作单位'],
  ['checkpoint', '交通卡口'],
  ['public-service', '公共管理和服务机构'],
  ['transport', '公共交通'],
  ['commerce', '商业场所'],
  ['school', '学校'],
  ['medical', '医疗机构'],
  ['other', '其他场所'],
];

export const RELATIONS = [
  ['child', '子女'],
  ['parent', '父母'],
  ['grandchild', '孙子女、外孙子女'],
  ['grandparent', '祖父母、外祖父母'],
  ['spouse', '配偶'],
  ['sibling', '兄弟姐妹'],
  ['relative', '其他亲属'],
  ['other', '其他'],
];

export const COLORS = { green: '绿码', yellow: '黄码', red: '红码' };

export const RISK_STATUSES = {
  confirmed: '确诊病例',
  suspected: '疑似病例',
  asymptomatic: '无症状感染者',
  'close-contact': '密切接触者',
  cleared: '解除隔离',
};

export const RISK_ROW_ERRORS = {
  'invalid-id-number': '身份证号码无效',
  'invalid-status': '状态无效（应为 confirmed、suspected、asymptomatic、close-contact 或 cleared）',
  'invalid-since': '日期无效（应为 YYYY-MM-DD，不晚于明天，不早于 2019-12-01）',
};

export const ERRORS = {
  'bad-request': '请求有误',
  unauthenticated: '登录已失效，请重新登录',
  forbidden: '无权进行此操作',
  'identity-required': '请先完成实名认证',
  'not-found': '未找到',
  'method-not-allowed': '请求方式有误',
  'payload-too-large': '提交的内容过大',
  'unsupported-media-type': '提交的内容格式有误',
  unavailable: '服务暂时不可用，请稍后再试',
  internal: '服务出错，请稍后再试',
  'invalid-id-number': '身份证号码无效，请核对',
  'invalid-name': '姓名无效：应为 2 至 30 个汉字或字母',
  'invalid-phone': '手机号码无效：应为 11 位、以 1 开头',
  'identity-mismatch': '姓名与身份证号码不符',
  'id-number-taken': '该身份证号码已被其他账号绑定',
  'already-verified': '本账号已绑定其他身份证号码',
  'too-many-dependents': '最多可添加 5 名被监护人',
  'guardian-consent-required': '此人已自行注册健康码或已有监护人，需由其本人或现有监护人在“健康码”页生成邀请码，填写邀请码后才能添加',
  'too-many-attempts': '操作过于频繁，请稍后再试',
  'invalid-declaration': '申报内容有误',
  'declaration-limit': '今日申报次数已达上限（每天最多 3 次）',
  'appeal-open': '已有一件待处理的申诉，请等待答复后再提交',
  'appeal-decided': '该申诉已处理',
  'declaration-required': '尚未进行健康申报，请先申报',
  'invalid-venue': '场所信息有误',
  'venue-exists': '每位申请人只能申领一个场所码；如需重新申领，请先作废原场所码',
  'invalid-code': '不是有效的健康码：不是本省签发，签发方也不在互认名单中，或已被篡改',
  'expired-code': '健康码已过期，请对方刷新后重新出示',
  'revoked-code': '此纸质码已作废：已为此人打印了新的纸质码，请出示最新打印的一张',
  'invalid-venue-code': '场所码无效（可能是伪造或已损坏的场所码）',
  'venue-revoked': '该场所码已被申请人作废',
  'idempotency-key-reused': '登记请求冲突，请重新扫码',
  network: '无法连接服务器，请检查网络或 API 地址',
};

export const label = (pairs, key) => (pairs.find(([k]) => k === key) || [key, key])[1];
