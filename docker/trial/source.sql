-- Sample data for docker/compose.yml's source (run once by the postgres image when its volume is new).
CREATE TABLE public.customer (id bigserial PRIMARY KEY, name text NOT NULL, email text UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE public.orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES public.customer (id),
                            total numeric(12,2) NOT NULL, items jsonb NOT NULL DEFAULT '[]', placed_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX orders_customer ON public.orders (customer_id);
INSERT INTO public.customer (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 10000) g;
INSERT INTO public.orders (customer_id, total, items)
SELECT 1 + g % 10000, round((random() * 500)::numeric, 2), jsonb_build_array(jsonb_build_object('sku', g % 97, 'qty', 1 + g % 3))
FROM generate_series(1, 200000) g;
