-- Seed prices for the models conf/router.json ships, so a fresh install
-- can bill them: the providers' public list prices (USD per million
-- tokens, 1 credit = 1 USD, so $0.15 = 150000 micros per Mtok), as
-- published when this migration was written. Prices change: admins keep
-- them current with PUT /api/admin/prices/{provider:model}, which adds
-- history and never rewrites past charges. A model already priced is
-- left alone. Tiered prices (long-context surcharges, batch discounts)
-- are not modelled: the base tier applies.

INSERT INTO model_prices (model, input_micros_per_mtok,
    cached_input_micros_per_mtok, output_micros_per_mtok,
    request_fee_micros)
SELECT s.model, s.inp, s.cached, s.outp, 0
FROM (VALUES
	-- The built-in echo provider: cheap, not free, so dev and the
	-- benchmark exercise the whole ledger.
	('echo:echo-1',				1000000,  500000,  2000000),
	('echo:echo-embed',			 100000,  100000,        0),
	('openai:gpt-4o-mini',			 150000,   75000,   600000),
	('openai:gpt-4o',			2500000, 1250000, 10000000),
	('openai:gpt-4.1',			2000000,  500000,  8000000),
	('openai:gpt-4.1-mini',			 400000,  100000,  1600000),
	('openai:o4-mini',			1100000,  275000,  4400000),
	('openai:text-embedding-3-small',	  20000,   20000,        0),
	('openai:text-embedding-3-large',	 130000,  130000,        0),
	('anthropic:claude-sonnet-4-5',		3000000,  300000, 15000000),
	('anthropic:claude-haiku-4-5',		1000000,  100000,  5000000),
	('anthropic:claude-opus-4-1',	       15000000, 1500000, 75000000),
	('gemini:gemini-2.5-flash',		 300000,   75000,  2500000),
	('gemini:gemini-2.5-pro',		1250000,  312500, 10000000),
	('gemini:gemini-embedding-001',		 150000,  150000,        0),
	('groq:llama-3.1-8b-instant',		  50000,   50000,    80000),
	('groq:llama-3.3-70b-versatile',	 590000,  590000,   790000),
	('mistral:mistral-small-latest',	 100000,  100000,   300000),
	('mistral:mistral-large-latest',	2000000, 2000000,  6000000),
	('mistral:mistral-embed',		 100000,  100000,        0),
	('deepseek:deepseek-chat',		 270000,   70000,  1100000),
	('deepseek:deepseek-reasoner',		 550000,  140000,  2190000),
	('xai:grok-4',				3000000,  750000, 15000000),
	('together:meta-llama/Llama-3.3-70B-Instruct-Turbo',
						 880000,  880000,   880000),
	('openrouter:openai/gpt-4o-mini',	 150000,   75000,   600000),
	('openrouter:anthropic/claude-sonnet-4.5',
						3000000,  300000, 15000000),
	-- Local models cost nothing.
	('ollama:llama3.1:8b',			      0,       0,        0),
	('ollama:nomic-embed-text',		      0,       0,        0)
) AS s (model, inp, cached, outp)
WHERE NOT EXISTS (SELECT 1 FROM model_prices p WHERE p.model = s.model);
