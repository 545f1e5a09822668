import * as lab from "lora-lab";

const engine = await lab.ready();
lab.seed(SEED);
const tok = new lab.ByteTokenizer();
// The new domain is Brown's J ("learned"), never seen in pretraining. What the base should keep is
// measured on held-out press (A-C) and fiction (K-P) documents, also never seen in pretraining.
const data = lab.forgettingData({ tokenizer: tok, windowLength: WINDOW, evalWindows: EVAL_WINDOWS, evalBatchSize: BATCH });
const evalSets = { domain: data.domainEval, retained: [...data.retain.press, ...data.retain.fiction] };
const trainWindows = data.domainTrain.slice(0, TRAIN_WINDOWS);
const loadBase = () => lab.loadBase(BASE);
const base0 = await loadBase();
const baseline = await lab.measureBaseline(base0, evalSets);
base0.dispose();
console.log(`backend ${engine.backend}; seed ${SEED}; ${trainWindows.length} training windows of ${WINDOW} bytes`);
console.log(`the base before fine-tuning: new-domain loss ${baseline.domain.toFixed(3)}, retained loss ${baseline.retained.toFixed(3)} nats/byte`);
