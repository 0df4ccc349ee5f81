package io.pacedrl.runner;

import io.pacedrl.tasks.JsonlDataset;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.TaskSuite;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A run's prompts: the pool it trains on and the held-out set it is evaluated on. */
record PromptPool(List<TaskPrompt> train, List<TaskPrompt> heldOut) {

    static PromptPool of(TaskSuite suite) {
        return new PromptPool(suite.train(), suite.heldOut());
    }

    /**
     * The prompts of a JSONL dataset (a prompt without a split is one to train on); fails, naming the
     * file, unless it has {@code minTrain} train prompts and one held out.
     */
    static PromptPool read(Path dataset, int minTrain) {
        List<TaskPrompt> prompts;
        try {
            prompts = JsonlDataset.read(dataset);
        } catch (JsonlDataset.FormatException | UncheckedIOException e) {
            throw new IllegalArgumentException("--dataset: " + e.getMessage(), e);
        }
        List<TaskPrompt> train = prompts.stream().filter(p -> p.split() != TaskPrompt.Split.HELD_OUT)
                .map(p -> p.withSplit(TaskPrompt.Split.TRAIN)).toList();
        List<TaskPrompt> heldOut = prompts.stream().filter(p -> p.split() == TaskPrompt.Split.HELD_OUT).toList();
        if (train.size() < minTrain || heldOut.isEmpty()) {
            throw new IllegalArgumentException("--dataset " + dataset + " has " + train.size() + " train and " + heldOut.size()
                    + " held_out prompts; a run needs prompts-per-step = " + minTrain + " train prompts and one held_out");
        }
        return new PromptPool(train, heldOut);
    }

    /** Every prompt, the pool's then the held-out ones: what the prompts topic holds. */
    List<TaskPrompt> all() {
        List<TaskPrompt> all = new ArrayList<>(train);
        all.addAll(heldOut);
        return all;
    }
}
