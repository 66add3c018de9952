import "/work/wt/audio/src/runtime/transformers.ts";
import { pipeline } from "@huggingface/transformers";
const asr: any = await pipeline("automatic-speech-recognition", "/work/wt/audio/models/tiny-whisper", { local_files_only: true, dtype: "fp32" });
const a = new Float32Array(16000 * 3); for (let i = 0; i < a.length; i++) a[i] = 0.3 * Math.sin(2 * Math.PI * 440 * i / 16000);
const b = new Float32Array(16000 * 2); for (let i = 0; i < b.length; i++) b[i] = 0.5 * Math.sin(i / 3) * Math.sin(i/1000);
for (const x of [a, b]) console.log(JSON.stringify((await asr(x, {language: "en"})).text), JSON.stringify(await asr(x, {language: "en", return_timestamps: true})));
