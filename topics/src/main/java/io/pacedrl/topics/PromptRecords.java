package io.pacedrl.topics;

import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.tasks.TaskPrompt;

/** The task suite's prompts as the pool topic's records, and back. */
public final class PromptRecords {
    private PromptRecords() {}

    public static Prompt toRecord(TaskPrompt prompt) {
        return Prompt.newBuilder().setId(prompt.id()).setKind(prompt.kind()).setFamily(prompt.family())
                .setDifficulty(prompt.difficulty()).setSplit(PromptSplit.valueOf(prompt.split().name()))
                .setText(prompt.text()).setAnswer(prompt.answer()).setSpec(prompt.spec()).build();
    }

    /** The prompt a verifier scores; fails, saying why, for a record no verifier could use (no answer and no spec). */
    public static TaskPrompt toTask(Prompt prompt) {
        return new TaskPrompt(prompt.getId(), prompt.getKind(), prompt.getFamily(), prompt.getDifficulty(),
                TaskPrompt.Split.valueOf(prompt.getSplit().name()), prompt.getText(), prompt.getAnswer(), prompt.getSpec());
    }
}
