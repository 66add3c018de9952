import type { Transcript } from "../engine/transcriber.ts";
import type { AudioResponseFormat, Transcription, TranscriptionVerbose } from "../openai/audio.ts";

/** A transcript in the response format asked for: a JSON body, or text / SubRip / WebVTT. */
export function formatTranscript(
  transcript: Transcript,
  format: AudioResponseFormat,
  task: "transcribe" | "translate",
  temperature: number,
): Transcription | TranscriptionVerbose | Response {
  // Billed by the started second, as OpenAI's whisper-1 reports it.
  const usage = { type: "duration" as const, seconds: Math.ceil(transcript.duration) };
  switch (format) {
    case "json":
      return { text: transcript.text, usage };
    case "verbose_json":
      return {
        task,
        language: transcript.language,
        duration: transcript.duration,
        text: transcript.text,
        segments: transcript.segments.map((s) => ({
          id: s.id,
          seek: s.seek,
          start: s.start,
          end: s.end,
          text: s.text,
          temperature,
          compression_ratio: s.compressionRatio,
        })),
        ...(transcript.words ? { words: transcript.words } : {}),
        usage,
      };
    case "text":
      return plain(`${transcript.text}\n`, "text/plain; charset=utf-8");
    case "srt":
      return plain(subRip(transcript), "application/x-subrip; charset=utf-8");
    case "vtt":
      return plain(webVtt(transcript), "text/vtt; charset=utf-8");
  }
}

function plain(body: string, type: string): Response {
  return new Response(body, { headers: { "content-type": type } });
}

/** hh:mm:ss + separator + milliseconds. */
export function clock(seconds: number, separator: "," | "."): string {
  const ms = Math.round(seconds * 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${separator}${pad(ms % 1000, 3)}`;
}

export function subRip(transcript: Transcript): string {
  return transcript.segments.map((s, i) => `${i + 1}\n${clock(s.start, ",")} --> ${clock(s.end, ",")}\n${s.text.trim()}\n\n`).join("");
}

export function webVtt(transcript: Transcript): string {
  return `WEBVTT\n\n${transcript.segments.map((s) => `${clock(s.start, ".")} --> ${clock(s.end, ".")}\n${s.text.trim()}\n\n`).join("")}`;
}
